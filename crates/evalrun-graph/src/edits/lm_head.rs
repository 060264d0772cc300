//! Log-probabilities inside the graph: a decoder's ONNX model, extended before it is loaded so
//! that ONNX Runtime hands back only what scoring reads instead of the whole
//! `[batch, tokens, vocab]` `logits` tensor (2048 × 50257 floats, 411 MB, per GPT-2 batch).
//!
//! Added to the graph (all in the default ONNX domain, opset 11 or later):
//!
//! ```text
//! evalrun_target_ids  int64 [batch, tokens, 1]   new input: the token scored at each position
//! evalrun_log_softmax    = LogSoftmax(logits, axis=-1)                                 [batch, tokens, vocab]
//! evalrun_target_logprob = GatherElements(evalrun_log_softmax, evalrun_target_ids, -1) [batch, tokens, 1]
//! evalrun_argmax         = ArgMax(logits, axis=-1, keepdims=0)                         [batch, tokens]
//! ```
//!
//! Where the export computes `logits = MatMul(hidden, W)` in the main graph (GPT-2 and other
//! Optimum causal-LM exports), the LM head itself is rewritten ([`gather_head`]) to run only at
//! the positions scored, in chunks: a LAMBADA row scores its last one to three tokens and a
//! shared context only its last, yet the head — a quarter of GPT-2's multiply-adds per token —
//! ran over every position; and a 1024-token WikiText-2 window held its `[1024, 50257]` logits
//! and their log-softmax at once (412 MB).
//!
//! ```text
//! evalrun_head_positions int64 [scored, 2]  new input: (row, position) of each scored token
//! evalrun_target_ids     int64 [scored, 1]  new input: the token scored there
//! evalrun_head_hidden = GatherND(hidden, evalrun_head_positions)                      [scored, hidden]
//! for c in 0..HEAD_CHUNKS, rows [c·HEAD_CHUNK, (c+1)·HEAD_CHUNK) (the last chunk: to the end):
//!   h_c = Slice(evalrun_head_hidden), t_c = Slice(evalrun_target_ids)
//!   l_c = MatMul(h_c, W); p_c = GatherElements(LogSoftmax(l_c), t_c); a_c = ArgMax(l_c)
//!   s_c = Concat(p_c, Cast<float>(a_c), axis=1)                                      [rows of c, 2]
//! evalrun_scores = Concat(s_0 …, axis=0)     (log-probability, argmax as float)    [scored, 2]
//! ```
//!
//! The head's `logits` output goes. Everything a chunk computes feeds one tensor, `s_c`, and
//! `s_c` feeds only the output: ONNX Runtime orders nodes by a depth-first walk back from the
//! graph's outputs (`GraphViewer`'s `ReverseDFSFrom`), so it finishes one chunk — and frees its
//! logits and log-softmax — before it starts the next. At most `HEAD_CHUNK` rows of logits (51
//! MB for GPT-2) and their log-softmax live at once, up to `HEAD_CHUNKS × HEAD_CHUNK` scored
//! positions per call; the last chunk takes the rest. The argmax travels as a float32, exact
//! for vocabularies below 2^24. Each logit is the same dot product as in the whole head.
//! Without this edit (`--graph-edits -lm_head`) the export's head stays and the nodes above
//! are appended after it ([`extend`], the `log_softmax` edit).
//!
//! The log-softmax is float32 inside ONNX Runtime, as lm-eval's `F.log_softmax` is in torch; the
//! caller sums the per-token values in f64. `ArgMax` keeps the first index on ties, as torch's
//! argmax does.
//!
//! The `log_softmax` edit is an append to the model as [`crate::weights`] prepares it (its
//! weights perhaps referenced where they lie in the file): a serialized protobuf message that repeats an embedded-message
//! field is parsed as the merge of both copies, and merging concatenates repeated fields. So one
//! short `ModelProto { graph: GraphProto { node, input, output } }` is appended and nothing else
//! is rewritten. Only the top-level fields and the graph's inputs and outputs are parsed — to
//! find the opset, check `logits` is an output and no name is taken.

use crate::proto::{
    self, attr_int, attr_int64_tensor, int_field, message, node, string, top_level_views, Fields,
    Value,
};

/// Names this module adds to a graph.
pub const TARGET_IDS: &str = "evalrun_target_ids";
pub const TARGET_LOGPROB: &str = "evalrun_target_logprob";
pub const ARGMAX: &str = "evalrun_argmax";
pub const HEAD_POSITIONS: &str = "evalrun_head_positions";
/// A gathered head's one output: `[scored, 2]`, log-probability and argmax per scored token.
pub const SCORES: &str = "evalrun_scores";
const LOG_SOFTMAX: &str = "evalrun_log_softmax";
const HEAD_HIDDEN: &str = "evalrun_head_hidden";

/// Scored positions per chunk of a gathered head, and how many chunks (the last takes the
/// rest): at most 256 × 50257 logits (51 MB) and their log-softmax at a time for GPT-2, up to
/// 4096 scored positions per call (`--batch-size auto` may pick four 1024-token windows).
/// Chunks left empty cost a few empty kernel calls.
pub const HEAD_CHUNK: i64 = 256;
const HEAD_CHUNKS: i64 = 16;

/// Why a graph could not be extended (the caller falls back to reading `logits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExtended(pub String);

impl std::fmt::Display for NotExtended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Replaces the LM head (`logits = MatMul(hidden, W)`) in the node list by one that runs only
/// at [`HEAD_POSITIONS`], in chunks, and ends in [`SCORES`] (module
/// docs); the caller drops the graph's `logits` output and [`extend`] declares the new inputs
/// and outputs. `Ok(false)`, nodes untouched, where the graph does not have that shape (no such
/// head in the main graph, subgraphs, a name taken, opset before 11).
pub(crate) fn gather_head(
    nodes: &mut Vec<Vec<u8>>,
    opset: Option<i64>,
) -> Result<bool, &'static str> {
    if opset.is_none_or(|v| v < 11) {
        return Ok(false);
    }
    let Some(views) = top_level_views(nodes)? else {
        return Ok(false);
    };
    let mut head = None;
    for (i, v) in views.iter().enumerate() {
        if v.inputs
            .iter()
            .chain(&v.outputs)
            .any(|n| n.starts_with("evalrun_"))
        {
            return Ok(false);
        }
        if v.outputs.iter().any(|o| o == "logits") {
            if head.is_some() {
                return Ok(false);
            }
            head = Some(i);
        }
    }
    let Some(i) = head else { return Ok(false) };
    let v = &views[i];
    let [hidden, weight] = v.inputs.as_slice() else {
        return Ok(false);
    };
    if v.op != "MatMul"
        || v.outputs.len() != 1
        || views.iter().any(|u| u.inputs.iter().any(|n| n == "logits"))
    {
        return Ok(false);
    }
    let mut head = vec![node(
        "GatherND",
        &[hidden, HEAD_POSITIONS],
        HEAD_HIDDEN,
        &format!("{HEAD_HIDDEN}_node"),
        &[],
    )];
    let constant = |name: &str, value: i64| {
        node(
            "Constant",
            &[],
            name,
            &format!("{name}_node"),
            &[attr_int64_tensor(&[value])],
        )
    };
    head.push(constant("evalrun_head_axis", 0));
    let mut chunks = Vec::new();
    for c in 0..HEAD_CHUNKS {
        let name = |what: &str| format!("evalrun_head_{what}_{c}");
        let end = if c + 1 == HEAD_CHUNKS {
            i64::MAX
        } else {
            (c + 1) * HEAD_CHUNK
        };
        head.push(constant(&name("start"), c * HEAD_CHUNK));
        head.push(constant(&name("end"), end));
        for (input, output) in [(HEAD_HIDDEN, name("hidden")), (TARGET_IDS, name("targets"))] {
            let inputs = [input, &name("start"), &name("end"), "evalrun_head_axis"];
            head.push(node(
                "Slice",
                &inputs,
                &output,
                &format!("{output}_node"),
                &[],
            ));
        }
        let step = |op: &str, inputs: &[&str], what: &str, attributes: &[Vec<u8>]| {
            node(
                op,
                inputs,
                &name(what),
                &format!("{}_node", name(what)),
                attributes,
            )
        };
        head.push(step("MatMul", &[&name("hidden"), weight], "logits", &[]));
        head.push(step(
            "LogSoftmax",
            &[&name("logits")],
            "log_softmax",
            &[attr_int("axis", -1)],
        ));
        head.push(step(
            "GatherElements",
            &[&name("log_softmax"), &name("targets")],
            "logprob",
            &[attr_int("axis", -1)],
        ));
        head.push(step(
            "ArgMax",
            &[&name("logits")],
            "argmax",
            &[attr_int("axis", -1), attr_int("keepdims", 1)],
        ));
        head.push(step(
            "Cast",
            &[&name("argmax")],
            "argmax_float",
            &[attr_int("to", FLOAT)],
        ));
        head.push(step(
            "Concat",
            &[&name("logprob"), &name("argmax_float")],
            "scores",
            &[attr_int("axis", 1)],
        ));
        chunks.push(name("scores"));
    }
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    head.push(node(
        "Concat",
        &chunks,
        SCORES,
        &format!("{SCORES}_node"),
        &[attr_int("axis", 0)],
    ));
    nodes.splice(i..=i, head);
    Ok(true)
}

/// Whether a graph with this opset, these inputs and outputs takes the scoring nodes: opset 11
/// or later (`GatherElements`), a `logits` output, and none of the names they add taken.
pub(crate) fn can_extend(
    opset: Option<i64>,
    inputs: &[String],
    outputs: &[String],
) -> Result<(), String> {
    let opset = opset.ok_or("the model imports no default-domain opset")?;
    if opset < 11 {
        return Err(format!("opset {opset} predates GatherElements (11)"));
    }
    if !outputs.iter().any(|o| o == "logits") {
        return Err("the graph has no `logits` output".into());
    }
    if let Some(taken) = [
        TARGET_IDS,
        TARGET_LOGPROB,
        ARGMAX,
        LOG_SOFTMAX,
        HEAD_POSITIONS,
        SCORES,
    ]
    .iter()
    .find(|n| inputs.iter().chain(outputs).any(|o| o == *n))
    {
        return Err(format!("the graph already names `{taken}`"));
    }
    Ok(())
}

/// Appends the scoring nodes to a serialized `ModelProto`; or, when [`gather_head`] has
/// already put them in place of the head, declares its inputs and outputs.
pub fn extend(model: &mut Vec<u8>, head_gathered: bool) -> Result<(), NotExtended> {
    let info = inspect(model)?;
    // A gathered head has already replaced `logits`; it was checked before.
    let mut outputs = info.outputs;
    if head_gathered {
        outputs.push("logits".into());
    }
    can_extend(info.opset, &info.inputs, &outputs).map_err(NotExtended)?;
    let mut graph = Vec::new();
    if head_gathered {
        let declare = [
            (11, HEAD_POSITIONS, INT64, &["scored_positions", "2"][..]),
            (11, TARGET_IDS, INT64, &["scored_positions", "1"]),
            (12, SCORES, FLOAT, &["scored_positions", "2"]),
        ];
        for (field, name, ty, dims) in declare {
            message(&mut graph, field, &value_info(name, ty, dims));
        }
        message(model, 7, &graph);
        return Ok(());
    }
    // LogSoftmax is one vectorised, multi-threaded MLAS kernel in ONNX Runtime's CPU provider;
    // ReduceLogSumExp is a generic reduction about five times slower on `[2048, 50257]`
    // (measured: 367 ms against 75 ms for LogSoftmax and the gather, 2 threads).
    let log_softmax = node(
        "LogSoftmax",
        &["logits"],
        LOG_SOFTMAX,
        &format!("{LOG_SOFTMAX}_node"),
        &[attr_int("axis", -1)],
    );
    let gather = node(
        "GatherElements",
        &[LOG_SOFTMAX, TARGET_IDS],
        TARGET_LOGPROB,
        &format!("{TARGET_LOGPROB}_node"),
        &[attr_int("axis", -1)],
    );
    let argmax = node(
        "ArgMax",
        &["logits"],
        ARGMAX,
        &format!("{ARGMAX}_node"),
        &[attr_int("axis", -1), attr_int("keepdims", 0)],
    );
    for n in [log_softmax, gather, argmax] {
        message(&mut graph, 1, &n);
    }
    let declare = [
        (
            11,
            TARGET_IDS,
            INT64,
            &["batch_size", "sequence_length", "1"][..],
        ),
        (
            12,
            TARGET_LOGPROB,
            FLOAT,
            &["batch_size", "sequence_length", "1"],
        ),
        (12, ARGMAX, INT64, &["batch_size", "sequence_length"]),
    ];
    for (field, name, ty, dims) in declare {
        message(&mut graph, field, &value_info(name, ty, dims));
    }
    message(model, 7, &graph);
    Ok(())
}

const FLOAT: i64 = 1;
const INT64: i64 = 7;

/// What [`extend`] needs to know about a model.
#[derive(Debug, Default)]
struct Info {
    opset: Option<i64>,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

fn inspect(model: &[u8]) -> Result<Info, NotExtended> {
    let bad = |what: &str| NotExtended(format!("not a readable ONNX ModelProto ({what})"));
    let mut info = Info::default();
    let mut seen_graph = false;
    for field in Fields::new(model) {
        if let (7, Value::Bytes(graph)) = field.map_err(bad)? {
            seen_graph = true;
            for f in Fields::new(graph) {
                match f.map_err(bad)? {
                    (11, Value::Bytes(v)) => info.inputs.push(value_info_name(v)?),
                    (12, Value::Bytes(v)) => info.outputs.push(value_info_name(v)?),
                    _ => {}
                }
            }
        }
    }
    if !seen_graph {
        return Err(bad("no graph"));
    }
    info.opset = proto::default_opset(model).map_err(bad)?;
    Ok(info)
}

fn value_info_name(bytes: &[u8]) -> Result<String, NotExtended> {
    proto::value_info_name(bytes)
        .ok_or_else(|| NotExtended("a graph input or output has no name".into()))
}

/// ValueInfoProto { name = 1, type = 2: TypeProto { tensor_type = 1: { elem_type = 1,
/// shape = 2: { dim = 1: { dim_value = 1 | dim_param = 2 } } } } }
fn value_info(name: &str, elem_type: i64, dims: &[&str]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d.parse::<i64>() {
            Ok(v) => int_field(&mut dim, 1, v),
            Err(_) => string(&mut dim, 2, d),
        }
        message(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    int_field(&mut tensor, 1, elem_type);
    message(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    message(&mut ty, 1, &tensor);
    let mut v = Vec::new();
    string(&mut v, 1, name);
    message(&mut v, 2, &ty);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::describe as ops;

    /// A minimal ModelProto: opset `opset`, one graph with the given outputs.
    fn model(opset: i64, outputs: &[&str]) -> Vec<u8> {
        let mut graph = Vec::new();
        string(&mut graph, 2, "g");
        message(&mut graph, 11, &value_info("input_ids", INT64, &["b", "t"]));
        for o in outputs {
            message(&mut graph, 12, &value_info(o, FLOAT, &["b", "t", "v"]));
        }
        let mut m = Vec::new();
        int_field(&mut m, 1, 8);
        let mut op = Vec::new();
        string(&mut op, 1, "");
        int_field(&mut op, 2, opset);
        message(&mut m, 8, &op);
        message(&mut m, 7, &graph);
        m
    }

    #[test]
    fn appended_graph_merges_into_the_original() {
        for opset in [14, 18] {
            let mut m = model(opset, &["logits", "present.0.key"]);
            extend(&mut m, false).unwrap();
            let info = inspect(&m).unwrap();
            assert_eq!(info.opset, Some(opset));
            assert_eq!(info.inputs, ["input_ids", TARGET_IDS]);
            assert_eq!(
                info.outputs,
                ["logits", "present.0.key", TARGET_LOGPROB, ARGMAX]
            );
        }
    }

    #[test]
    fn graphs_it_cannot_extend_say_why() {
        let no_logits = extend(&mut model(14, &["last_hidden_state"]), false).unwrap_err();
        assert!(no_logits.0.contains("no `logits` output"), "{no_logits}");
        let old = extend(&mut model(9, &["logits"]), false).unwrap_err();
        assert!(old.0.contains("opset 9"), "{old}");
        let mut twice = model(14, &["logits"]);
        extend(&mut twice, false).unwrap();
        let again = extend(&mut twice, false).unwrap_err();
        assert!(again.0.contains("already names"), "{again}");
        let garbage = extend(&mut vec![0x0a, 0xff], false).unwrap_err();
        assert!(garbage.0.contains("not a readable ONNX"), "{garbage}");
    }

    #[test]
    fn the_head_runs_in_chunks_at_the_gathered_positions() {
        let op = |op: &str, inputs: &[&str], output: &str| node(op, inputs, output, output, &[]);
        let graph = || {
            vec![
                op("LayerNormalization", &["h", "g", "b"], "hidden"),
                op("MatMul", &["hidden", "wte_t"], "logits"),
                op("Identity", &["hidden"], "last_hidden"),
            ]
        };
        let mut nodes = graph();
        assert_eq!(gather_head(&mut nodes, Some(14)), Ok(true));
        let ops = ops(&nodes);
        assert_eq!(ops[0], "LayerNormalization(h,g,b)->hidden");
        assert_eq!(
            ops[1],
            format!("GatherND(hidden,{HEAD_POSITIONS})->{HEAD_HIDDEN}")
        );
        assert_eq!(ops.last().unwrap(), "Identity(hidden)->last_hidden");
        assert!(!ops.iter().any(|o| o.ends_with("->logits")), "{ops:#?}");
        let matmuls: Vec<usize> = (0..ops.len())
            .filter(|&i| ops[i].starts_with("MatMul("))
            .collect();
        assert_eq!(matmuls.len(), HEAD_CHUNKS as usize);
        for (c, &m) in matmuls.iter().enumerate() {
            assert_eq!(
                ops[m],
                format!("MatMul(evalrun_head_hidden_{c},wte_t)->evalrun_head_logits_{c}")
            );
            // The chunk's logits are read by its log-softmax and argmax only, and everything
            // it computes ends in one tensor that only the output reads.
            let readers: Vec<&String> = ops
                .iter()
                .filter(|o| o.contains(&format!("(evalrun_head_logits_{c})")))
                .collect();
            assert_eq!(readers.len(), 2, "{readers:?}");
            let scores = format!(
                "Concat(evalrun_head_logprob_{c},evalrun_head_argmax_float_{c})->evalrun_head_scores_{c}"
            );
            assert!(ops.contains(&scores), "{ops:#?}");
        }
        let chunks: Vec<String> = (0..HEAD_CHUNKS)
            .map(|c| format!("evalrun_head_scores_{c}"))
            .collect();
        let readers_of_chunks = ops
            .iter()
            .filter(|o| {
                chunks
                    .iter()
                    .any(|c| o.contains(&format!("{c},")) || o.contains(&format!("{c})")))
            })
            .count();
        assert_eq!(readers_of_chunks, 1);
        assert!(ops.contains(&format!("Concat({})->{SCORES}", chunks.join(","))));
        // Not this shape of head, or too old an opset: nodes untouched.
        for (mut nodes, opset) in [
            (graph(), Some(10)),
            (graph(), None),
            (
                {
                    let mut n = graph();
                    n[1] = op("Gemm", &["hidden", "w"], "logits");
                    n
                },
                Some(14),
            ),
            (
                {
                    let mut n = graph();
                    n.push(op("If", &["c"], "x"));
                    n
                },
                Some(14),
            ),
            (
                {
                    let mut n = graph();
                    n.push(op("Relu", &["x"], "logits"));
                    n
                },
                Some(14),
            ),
            (
                {
                    let mut n = graph();
                    n.push(op("Softmax", &["logits"], "p"));
                    n
                },
                Some(14),
            ),
            (
                vec![op("MatMul", &["a", "b"], "last_hidden_state")],
                Some(14),
            ),
        ] {
            let before = nodes.clone();
            assert_eq!(gather_head(&mut nodes, opset), Ok(false));
            assert_eq!(nodes, before);
        }
    }

    #[test]
    fn a_gathered_head_declares_its_inputs_and_outputs() {
        let mut m = model(14, &["present.0.key"]);
        extend(&mut m, true).unwrap();
        let info = inspect(&m).unwrap();
        assert_eq!(info.inputs, ["input_ids", HEAD_POSITIONS, TARGET_IDS]);
        assert_eq!(info.outputs, ["present.0.key", SCORES]);
    }
}
