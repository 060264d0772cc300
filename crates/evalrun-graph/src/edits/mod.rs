//! One module per load-time edit of a graph's nodes. Each takes a node list (and what it needs
//! of the graph) and says how many places it changed, leaving graphs of any other shape alone.
//! Which of them run, and in what order, is [`crate::prepare`]'s business.

pub mod attention_blocks;
pub mod cross_attention;
pub mod lm_head;
pub mod nan_guards;
