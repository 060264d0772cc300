//! Causal self-attention in blocks of query rows, for long windows.
//!
//! A causal LM's export computes each layer's attention over the whole `[tokens, keys]` square:
//!
//! ```text
//! p = Softmax(Add(MatMul(q, Mul(Transpose(k), s)), mask))       [batch, heads, tokens, keys]
//! o = MatMul(p, v)                                              [batch, heads, tokens, head_dim]
//! ```
//!
//! though the causal mask sets every key after a query's position to −∞, whose weight is exactly
//! zero. At 1024 tokens the scores, the mask's `Add` and the `Softmax` are each a pass over a
//! 100 MB `[2, 12, 1024, 1024]` tensor per GPT-2 layer (the softmax alone was 14% of the
//! forward time on this CPU, a third of it after the LM head went). Here those nodes are
//! replaced, where the graph has exactly that shape, by an `If`:
//!
//! ```text
//! long = tokens > MIN_TOKENS and keys == tokens         (no past: a fresh window or context)
//!        and the mask has a row per token and the scale one element (checked on the shapes)
//! If(long)
//!   then: step = max(ceil(tokens / BLOCKS), MIN_BLOCK)
//!         for each block b, rows [b·step, min((b+1)·step, tokens)), keys [0, end) (none when
//!         the block is empty):
//!           o_b = MatMul(Softmax(Add(MatMul(q_b, Transpose(Slice(Mul(k, s)))), mask_b)), v_b)
//!         o = Concat(o_0 …, axis=-2)
//!   else: the export's own nodes, unchanged
//! ```
//!
//! A block of query rows sees only the keys up to its last row: the keys it drops are the ones
//! the mask set to −∞ for every row of the block, which contribute exactly zero to the softmax
//! and to the weighted sum. With 16 blocks the scores, the softmax and both attention products
//! shrink to 17/32 of the square, and each block's scores (`[2, 12, 64, ≤1024]`, 6 MB) stay
//! in cache. Scaling `k` before the transpose multiplies the same numbers (the transpose moves
//! them, the product is elementwise), and ONNX Runtime fuses the per-block `Transpose` into
//! its `MatMul` (`FusedMatMul`). Short windows (LAMBADA rows, candidate continuations) and
//! calls with a past (scoring against a cached context) take the `else` branch: the graph as
//! exported, so their scores are bit-identical to before.
//!
//! Only graphs loaded as causal LMs are edited (their masks carry the causal triangle; an
//! encoder's do not; a prefix LM's would not either, and is not a model evalrun loads as a
//! causal LM), and only attention of exactly the shape above: each intermediate read
//! once, 4-D keys with one `Transpose` before the product (`[0, 1, 3, 2]` from `[batch, heads,
//! keys, head_dim]`, or `[0, 2, 3, 1]` from `[batch, keys, heads, head_dim]` as the export without
//! past has it: a block slices the axis that the transpose makes last), opset 13 or later, no
//! subgraphs.
//! `--graph-edits -attention_blocks` leaves attention as exported.

use crate::proto::{
    attr_graph, attr_int, attr_int64_tensor, attr_ints, int_attr, ints_attr, message, node, string,
    top_level_views, uses_prefix, NodeView, Wiring, OUTSIDE,
};

/// Windows longer than this take the blocked branch (measured on GPT-2 124M, 2 threads: 1.13×
/// faster at 500 tokens, 1.19× at 1024, no gain at 200–300).
pub const MIN_TOKENS: i64 = 256;
/// Blocks of query rows per window, and the fewest rows a block takes.
pub const BLOCKS: i64 = 16;
pub const MIN_BLOCK: i64 = 64;

/// Where the blocked branch is taken and how the rows are cut: [`MIN_TOKENS`], [`BLOCKS`],
/// [`MIN_BLOCK`] for models; smaller in tests, so that a tiny fixture's windows exercise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocks {
    pub min_tokens: i64,
    pub blocks: i64,
    pub min_block: i64,
}

impl Default for Blocks {
    fn default() -> Self {
        Self {
            min_tokens: MIN_TOKENS,
            blocks: BLOCKS,
            min_block: MIN_BLOCK,
        }
    }
}

const PREFIX: &str = "evalrun_attn_";

/// One attention of the shape this module rewrites.
struct Attention {
    /// The nodes replaced (indices into the node list, in graph order).
    nodes: Vec<usize>,
    q: String,
    /// The keys before their transpose, the transpose's `perm`, and the axis of `k` that
    /// becomes the transposed keys' last (the key axis): `perm[3]`.
    k: String,
    perm: Vec<i64>,
    k_axis: i64,
    scale: Option<String>,
    mask: String,
    mask_first: bool,
    v: String,
    axis: i64,
    /// The softmax's output, the second `MatMul`'s first input (through an `Identity` left by
    /// [`crate::edits::nan_guards::strip`], if any).
    probabilities: String,
    output: String,
    output_node_name: String,
}

/// Rewrites every causal attention of the shape in the module docs; returns how many. Nodes are
/// left untouched (`Ok(0)`) in graphs with subgraphs, names of ours, or opset before 13.
pub(crate) fn causal_blocks(
    nodes: &mut Vec<Vec<u8>>,
    opset: Option<i64>,
    graph_outputs: &[String],
    blocks: Blocks,
) -> Result<usize, &'static str> {
    if opset.is_none_or(|v| v < 13) {
        return Ok(0);
    }
    let Some(views) = top_level_views(nodes)? else {
        return Ok(0);
    };
    if uses_prefix(&views, PREFIX) {
        return Ok(0);
    }
    // A graph output is read from outside ([`OUTSIDE`]): never moved into a branch.
    let wiring = Wiring::new(&views, graph_outputs);
    let found: Vec<Attention> = (0..views.len())
        .filter_map(|i| matches(nodes, &views, &wiring, i))
        .collect();
    // Two matches that share a node (one attention's output feeding the next one's keys inside
    // the matched nodes) cannot both move: leave such a graph as it is.
    let mut claimed = vec![false; nodes.len()];
    for i in found.iter().flat_map(|a| &a.nodes) {
        if std::mem::replace(&mut claimed[*i], true) {
            return Ok(0);
        }
    }
    if found.is_empty() || blocks.blocks < 1 || blocks.min_block < 1 {
        return Ok(0);
    }
    let constant = |name: &str, values: &[i64]| {
        node(
            "Constant",
            &[],
            name,
            &format!("{name}_node"),
            &[attr_int64_tensor(values)],
        )
    };
    let c = |what: &str| format!("{PREFIX}{what}");
    let mut shared = vec![
        constant(&c("zero"), &[0]),
        constant(&c("one"), &[1]),
        constant(&c("minus_one"), &[-1]),
        constant(&c("minus_two"), &[-2]),
        constant(&c("last_two_axes"), &[-2, -1]),
        constant(&c("blocks"), &[blocks.blocks]),
        constant(&c("blocks_less_one"), &[blocks.blocks - 1]),
        constant(&c("min_block"), &[blocks.min_block]),
        constant(&c("min_tokens"), &[blocks.min_tokens]),
    ];
    for b in 0..=blocks.blocks {
        shared.push(constant(&c(&format!("b{b}")), &[b]));
    }
    let mut replaced = vec![None; nodes.len()];
    let mut dropped = vec![false; nodes.len()];
    for (l, a) in found.iter().enumerate() {
        for &i in &a.nodes {
            dropped[i] = true;
        }
        let last = *a.nodes.last().expect("an attention has nodes");
        replaced[last] = Some(rewrite(nodes, a, l, blocks));
    }
    let mut out = Vec::with_capacity(nodes.len() + shared.len());
    out.append(&mut shared);
    for (i, n) in nodes.drain(..).enumerate() {
        if let Some(new) = replaced[i].take() {
            out.extend(new);
        } else if !dropped[i] {
            out.push(n);
        }
    }
    *nodes = out;
    Ok(found.len())
}

/// The attention whose `Softmax` is node `s`, if it has exactly the shape rewritten here.
fn matches(nodes: &[Vec<u8>], views: &[NodeView], wiring: &Wiring, s: usize) -> Option<Attention> {
    let sm = &views[s];
    if sm.op != "Softmax" || sm.inputs.len() != 1 || sm.outputs.len() != 1 {
        return None;
    }
    let (producer, readers) = (&wiring.producer, &wiring.readers);
    let axis = int_attr(&nodes[s], "axis").unwrap_or(-1);
    if axis != -1 && axis != 3 {
        return None;
    }
    // Made by an `op` node, read by that one node only.
    let only = |name: &str, op: &str| {
        let i = *producer.get(name)?;
        (views[i].op == op && wiring.read_count(name) == 1).then_some(i)
    };
    let add = only(&sm.inputs[0], "Add")?;
    let [x, y] = views[add].inputs.as_slice() else {
        return None;
    };
    let (scores, mask, mask_first) = match (only(x, "MatMul"), only(y, "MatMul")) {
        (Some(m), _) => (m, y, false),
        (None, Some(m)) => (m, x, true),
        _ => return None,
    };
    let [q, kt] = views[scores].inputs.as_slice() else {
        return None;
    };
    let (transpose, scale, mul) = if let Some(t) = only(kt, "Transpose") {
        (t, None, None)
    } else {
        let m = only(kt, "Mul")?;
        let [a, b] = views[m].inputs.as_slice() else {
            return None;
        };
        match (only(a, "Transpose"), only(b, "Transpose")) {
            (Some(t), _) => (t, Some(b.clone()), Some(m)),
            (None, Some(t)) => (t, Some(a.clone()), Some(m)),
            _ => return None,
        }
    };
    let perm = ints_attr(&nodes[transpose], "perm")?;
    if perm.len() != 4 || views[transpose].inputs.len() != 1 {
        return None;
    }
    let k = views[transpose].inputs[0].clone();
    let mut probabilities = sm.outputs[0].clone();
    let mut identity = None;
    let mut reader = *readers.get(probabilities.as_str())?.first()?;
    if wiring.read_count(&probabilities) != 1 || reader == OUTSIDE {
        return None;
    }
    if views[reader].op == "Identity" {
        identity = Some(reader);
        probabilities = views[reader].outputs.first()?.clone();
        let r = readers.get(probabilities.as_str())?;
        if r.len() != 1 || r[0] == OUTSIDE {
            return None;
        }
        reader = r[0];
    }
    let o = &views[reader];
    if o.op != "MatMul"
        || o.inputs.len() != 2
        || o.inputs[0] != probabilities
        || o.outputs.len() != 1
    {
        return None;
    }
    let mut moved: Vec<usize> = [Some(transpose), mul, Some(scores), Some(add), Some(s)]
        .into_iter()
        .chain([identity, Some(reader)])
        .flatten()
        .collect();
    moved.sort_unstable();
    // Every input the branches read must exist before the `If` (it takes the last node's place).
    let last = *moved.last()?;
    let before = |name: &String| producer.get(name.as_str()).is_none_or(|&i| i < last);
    if moved.last() != Some(&reader)
        || ![q, &k, mask, &o.inputs[1]]
            .into_iter()
            .chain(scale.as_ref())
            .all(before)
    {
        return None;
    }
    Some(Attention {
        nodes: moved,
        q: q.clone(),
        k,
        k_axis: perm[3],
        perm,
        scale,
        mask: mask.clone(),
        mask_first,
        v: o.inputs[1].clone(),
        axis,
        probabilities,
        output: o.outputs[0].clone(),
        output_node_name: o.name.clone(),
    })
}

/// The nodes that replace attention `a` (the `l`-th): the condition in the main graph, then the
/// `If` with its two branches.
fn rewrite(nodes: &[Vec<u8>], a: &Attention, l: usize, blocks: Blocks) -> Vec<Vec<u8>> {
    let name = |what: &str| format!("{PREFIX}{l}_{what}");
    let c = |what: &str| format!("{PREFIX}{what}");
    let op = |op: &str, inputs: &[&str], output: &str, attributes: &[Vec<u8>]| {
        node(op, inputs, output, &format!("{output}_node"), attributes)
    };
    let mut main = Vec::new();
    for (what, value) in [("k_axis", a.k_axis), ("k_axis_end", a.k_axis + 1)] {
        main.push(op(
            "Constant",
            &[],
            &name(what),
            &[attr_int64_tensor(&[value])],
        ));
    }
    // tokens = shape(q)[-2], keys = shape(k)[k_axis], as one-element tensors.
    main.push(op("Shape", &[&a.q], &name("q_shape"), &[]));
    main.push(op("Shape", &[&a.k], &name("k_shape"), &[]));
    main.push(op(
        "Slice",
        &[&name("q_shape"), &c("minus_two"), &c("minus_one")],
        &name("tokens"),
        &[],
    ));
    main.push(op(
        "Slice",
        &[&name("k_shape"), &name("k_axis"), &name("k_axis_end")],
        &name("keys"),
        &[],
    ));
    main.push(op(
        "Greater",
        &[&name("tokens"), &c("min_tokens")],
        &name("long"),
        &[],
    ));
    main.push(op(
        "Equal",
        &[&name("keys"), &name("tokens")],
        &name("no_past"),
        &[],
    ));
    // What the blocked branch assumes, checked on the shapes each call: a mask with a row per
    // query (rank 2 or more, its second-to-last axis the tokens: a mask broadcast over rows
    // cannot be cut into row blocks) and a one-element scale (scaling `k` before its transpose
    // is the same product only then). Anything else takes the export's branch.
    main.push(op("Shape", &[&a.mask], &name("mask_shape"), &[]));
    main.push(op("Size", &[&name("mask_shape")], &name("mask_rank"), &[]));
    main.push(op(
        "Greater",
        &[&name("mask_rank"), &c("one")],
        &name("mask_has_rows"),
        &[],
    ));
    main.push(op(
        "Slice",
        &[&name("mask_shape"), &c("minus_two"), &c("minus_one")],
        &name("mask_rows"),
        &[],
    ));
    main.push(op(
        "Equal",
        &[&name("mask_rows"), &name("tokens")],
        &name("mask_row_per_token"),
        &[],
    ));
    let mut checks = vec![
        name("long"),
        name("no_past"),
        name("mask_has_rows"),
        name("mask_row_per_token"),
    ];
    if let Some(scale) = &a.scale {
        main.push(op("Size", &[scale], &name("scale_size"), &[]));
        main.push(op(
            "Equal",
            &[&name("scale_size"), &c("one")],
            &name("scale_single"),
            &[],
        ));
        checks.push(name("scale_single"));
    }
    let mut blocked = checks[0].clone();
    for (i, check) in checks.iter().enumerate().skip(1) {
        let output = if i + 1 == checks.len() {
            name("blocked")
        } else {
            name(&format!("checks_{i}"))
        };
        main.push(op("And", &[&blocked, check], &output, &[]));
        blocked = output;
    }

    let mut then = Vec::new();
    let tokens = name("tokens");
    then.push(op(
        "Add",
        &[&tokens, &c("blocks_less_one")],
        &name("rounded_up"),
        &[],
    ));
    then.push(op(
        "Div",
        &[&name("rounded_up"), &c("blocks")],
        &name("per_block"),
        &[],
    ));
    then.push(op(
        "Max",
        &[&name("per_block"), &c("min_block")],
        &name("step"),
        &[],
    ));
    let k = match &a.scale {
        Some(s) => {
            then.push(op("Mul", &[&a.k, s], &name("k_scaled"), &[]));
            name("k_scaled")
        }
        None => a.k.clone(),
    };
    let mut outputs = Vec::new();
    for b in 0..blocks.blocks {
        let n = |what: &str| name(&format!("{what}_{b}"));
        let step = name("step");
        then.push(op("Mul", &[&step, &c(&format!("b{b}"))], &n("start"), &[]));
        then.push(op(
            "Mul",
            &[&step, &c(&format!("b{}", b + 1))],
            &n("next"),
            &[],
        ));
        then.push(op("Min", &[&n("next"), &tokens], &n("end"), &[]));
        // An empty block (its start at or past the last row) reads no keys either.
        then.push(op("Less", &[&n("start"), &tokens], &n("live"), &[]));
        then.push(op(
            "Cast",
            &[&n("live")],
            &n("live_int"),
            &[attr_int("to", 7)],
        ));
        then.push(op("Mul", &[&n("end"), &n("live_int")], &n("keys"), &[]));
        let rows = [n("start"), n("end"), c("minus_two")];
        then.push(op(
            "Slice",
            &[&a.q, &rows[0], &rows[1], &rows[2]],
            &n("q"),
            &[],
        ));
        for (input, output, axis) in [(&k, n("k"), name("k_axis")), (&a.v, n("v"), c("minus_two"))]
        {
            then.push(op(
                "Slice",
                &[input, &c("zero"), &n("keys"), &axis],
                &output,
                &[],
            ));
        }
        then.push(op(
            "Transpose",
            &[&n("k")],
            &n("k_t"),
            &[attr_ints("perm", &a.perm)],
        ));
        then.push(op(
            "Concat",
            &[&n("start"), &c("zero")],
            &n("mask_starts"),
            &[attr_int("axis", 0)],
        ));
        then.push(op(
            "Concat",
            &[&n("end"), &n("keys")],
            &n("mask_ends"),
            &[attr_int("axis", 0)],
        ));
        then.push(op(
            "Slice",
            &[
                &a.mask,
                &n("mask_starts"),
                &n("mask_ends"),
                &c("last_two_axes"),
            ],
            &n("mask"),
            &[],
        ));
        then.push(op("MatMul", &[&n("q"), &n("k_t")], &n("scores"), &[]));
        let add = if a.mask_first {
            [n("mask"), n("scores")]
        } else {
            [n("scores"), n("mask")]
        };
        then.push(op("Add", &[&add[0], &add[1]], &n("masked"), &[]));
        then.push(op(
            "Softmax",
            &[&n("masked")],
            &n("p"),
            &[attr_int("axis", a.axis)],
        ));
        then.push(op("MatMul", &[&n("p"), &n("v")], &n("o"), &[]));
        outputs.push(n("o"));
    }
    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    then.push(op(
        "Concat",
        &outputs,
        &name("then"),
        &[attr_int("axis", -2)],
    ));

    // The export's own nodes, but for the last one's output name.
    let mut otherwise: Vec<Vec<u8>> = a.nodes[..a.nodes.len() - 1]
        .iter()
        .map(|&i| nodes[i].clone())
        .collect();
    otherwise.push(node(
        "MatMul",
        &[&a.probabilities, &a.v],
        &name("else"),
        &a.output_node_name,
        &[],
    ));

    let branch = |nodes: &[Vec<u8>], output: &str| {
        let mut g = Vec::new();
        for n in nodes {
            message(&mut g, 1, n);
        }
        string(&mut g, 2, output);
        // ValueInfoProto { name } alone: ONNX Runtime infers the type.
        let mut out = Vec::new();
        string(&mut out, 1, output);
        message(&mut g, 12, &out);
        g
    };
    main.push(node(
        "If",
        &[&name("blocked")],
        &a.output,
        &name("if"),
        &[
            attr_graph("then_branch", &branch(&then, &name("then"))),
            attr_graph("else_branch", &branch(&otherwise, &name("else"))),
        ],
    ));
    main
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::describe as ops;

    fn op(op: &str, inputs: &[&str], output: &str) -> Vec<u8> {
        node(op, inputs, output, output, &[])
    }

    /// One layer's attention as the GPT-2 export (after the NaN guard went) has it.
    fn layer() -> Vec<Vec<u8>> {
        vec![
            op("Transpose", &["k_in"], "k_bnsh"),
            node(
                "Transpose",
                &["k_bnsh"],
                "k_t",
                "k_t",
                &[attr_ints("perm", &[0, 1, 3, 2])],
            ),
            op("Mul", &["k_t", "s"], "k_scaled"),
            op("MatMul", &["q", "k_scaled"], "scores"),
            op("Add", &["scores", "mask"], "masked"),
            node("Softmax", &["masked"], "p", "p", &[attr_int("axis", -1)]),
            op("Identity", &["p"], "p_kept"),
            op("MatMul", &["p_kept", "v"], "o"),
            op("Transpose", &["o"], "o_bsnh"),
        ]
    }

    fn subgraphs(node: &[u8]) -> Vec<Vec<String>> {
        use crate::proto::{Fields, Value};
        let mut out = Vec::new();
        for f in Fields::new(node) {
            if let Ok((5, Value::Bytes(a))) = f {
                for f in Fields::new(a) {
                    if let Ok((6, Value::Bytes(g))) = f {
                        let nodes: Vec<Vec<u8>> = Fields::new(g)
                            .filter_map(|f| match f {
                                Ok((1, Value::Bytes(n))) => Some(n.to_vec()),
                                _ => None,
                            })
                            .collect();
                        out.push(ops(&nodes));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn causal_attention_becomes_an_if_over_blocks_and_the_export() {
        let mut nodes = layer();
        let n = causal_blocks(&mut nodes, Some(18), &["o_bsnh".into()], Blocks::default());
        assert_eq!(n, Ok(1));
        let all = ops(&nodes);
        // The first transpose and the last stay; the constants come first.
        assert!(
            all[0].starts_with("Constant()->evalrun_attn_zero"),
            "{all:#?}"
        );
        assert!(all.contains(&"Transpose(k_in)->k_bnsh".to_string()));
        assert_eq!(all.last().unwrap(), "Transpose(o)->o_bsnh");
        let if_at = all.iter().position(|o| o.starts_with("If(")).unwrap();
        assert_eq!(all[if_at], "If(evalrun_attn_0_blocked)->o");
        assert!(all.contains(
            &"Greater(evalrun_attn_0_tokens,evalrun_attn_min_tokens)->evalrun_attn_0_long"
                .to_string()
        ));
        for check in [
            "Size(mask_shape_placeholder)",
            "Size(s)->evalrun_attn_0_scale_size",
            "Equal(evalrun_attn_0_mask_rows,evalrun_attn_0_tokens)->evalrun_attn_0_mask_row_per_token",
            "And(evalrun_attn_0_checks_3,evalrun_attn_0_scale_single)->evalrun_attn_0_blocked",
        ] {
            let check = check.replace("mask_shape_placeholder", "evalrun_attn_0_mask_shape");
            assert!(all.iter().any(|o| o.starts_with(&check)), "{check}: {all:#?}");
        }
        for gone in [
            "->k_t",
            "->k_scaled",
            "->scores",
            "->masked",
            "->p",
            "->p_kept",
        ] {
            assert!(!all.iter().any(|o| o.ends_with(gone)), "{gone}: {all:#?}");
        }
        let [then, otherwise] = subgraphs(&nodes[if_at]).try_into().unwrap();
        assert_eq!(
            otherwise,
            [
                "Transpose(k_bnsh)->k_t",
                "Mul(k_t,s)->k_scaled",
                "MatMul(q,k_scaled)->scores",
                "Add(scores,mask)->masked",
                "Softmax(masked)->p",
                "Identity(p)->p_kept",
                "MatMul(p_kept,v)->evalrun_attn_0_else",
            ]
        );
        assert!(then.contains(&"Mul(k_bnsh,s)->evalrun_attn_0_k_scaled".to_string()));
        for b in 0..BLOCKS {
            let n = |w: &str| format!("evalrun_attn_0_{w}_{b}");
            for expected in [
                format!(
                    "Slice(q,{},{},evalrun_attn_minus_two)->{}",
                    n("start"),
                    n("end"),
                    n("q")
                ),
                format!(
                    "Slice(evalrun_attn_0_k_scaled,evalrun_attn_zero,{},evalrun_attn_0_k_axis)->{}",
                    n("keys"),
                    n("k")
                ),
                format!(
                    "Slice(v,evalrun_attn_zero,{},evalrun_attn_minus_two)->{}",
                    n("keys"),
                    n("v")
                ),
                format!(
                    "Slice(mask,{},{},evalrun_attn_last_two_axes)->{}",
                    n("mask_starts"),
                    n("mask_ends"),
                    n("mask")
                ),
                format!("Add({},{})->{}", n("scores"), n("mask"), n("masked")),
                format!("MatMul({},{})->{}", n("p"), n("v"), n("o")),
            ] {
                assert!(then.contains(&expected), "{expected}: {then:#?}");
            }
        }
        assert!(then.last().unwrap().ends_with("->evalrun_attn_0_then"));
    }

    #[test]
    fn other_shapes_are_left_alone() {
        type Case = (Vec<Vec<u8>>, Option<i64>, Vec<String>);
        let cases: Vec<Case> = vec![
            (layer(), Some(12), vec![]),
            (layer(), None, vec![]),
            // The scores are a graph output (read outside the attention).
            (layer(), Some(18), vec!["scores".into()]),
            // Keys of another rank.
            (
                {
                    let mut n = layer();
                    n[1] = node(
                        "Transpose",
                        &["k_bnsh"],
                        "k_t",
                        "k_t",
                        &[attr_ints("perm", &[0, 2, 1])],
                    );
                    n
                },
                Some(18),
                vec![],
            ),
            // The probabilities read twice.
            (
                {
                    let mut n = layer();
                    n.push(op("ReduceSum", &["p"], "total"));
                    n
                },
                Some(18),
                vec![],
            ),
            // A softmax over another axis.
            (
                {
                    let mut n = layer();
                    n[5] = node("Softmax", &["masked"], "p", "p", &[attr_int("axis", 1)]);
                    n
                },
                Some(18),
                vec![],
            ),
            // Subgraphs elsewhere.
            (
                {
                    let mut n = layer();
                    n.push(op("If", &["c"], "x"));
                    n
                },
                Some(18),
                vec![],
            ),
        ];
        // Blocks that cannot cut anything.
        for blocks in [
            Blocks {
                blocks: 0,
                ..Blocks::default()
            },
            Blocks {
                min_block: 0,
                ..Blocks::default()
            },
        ] {
            let mut nodes = layer();
            assert_eq!(causal_blocks(&mut nodes, Some(18), &[], blocks), Ok(0));
            assert_eq!(nodes, layer());
        }
        for (i, (mut nodes, opset, outputs)) in cases.into_iter().enumerate() {
            let before = nodes.clone();
            assert_eq!(
                causal_blocks(&mut nodes, opset, &outputs, Blocks::default()),
                Ok(0),
                "case {i}"
            );
            assert_eq!(nodes, before, "case {i}");
        }
    }
}
