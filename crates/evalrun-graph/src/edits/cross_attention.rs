//! Beam search's cross-attention over one copy of each input's encoder keys and values.
//!
//! transformers' beam search repeats every input's encoder output once per beam, and so does a
//! T5 decoder export: each step's cross-attention reads `past_key_values.{l}.encoder.{key,value}`
//! of shape `[rows, heads, source, head_dim]`, `rows` = inputs × beams, though the beams of an
//! input hold the same numbers. For long inputs those reads dominate a step: 4 beams of 2
//! inputs over 512 source tokens are 302 MB of keys and values per step, against 495 MB of
//! T5-base decoder weights. Here each cross-attention that reads the cache inputs directly,
//!
//! ```text
//! scores = MatMul(q, Transpose(past_key, perm = [0, 1, 3, 2]))     q: [rows, heads, L, head_dim]
//! out    = MatMul(p, past_value)
//! ```
//!
//! is rewritten to take keys and values with one row per input (`b` = their first dimension,
//! `rows` = `b` × beams, a beam's rows next to each other):
//!
//! ```text
//! q'     = Reshape(Transpose(Reshape(q, [b, -1, heads, L, head_dim]), [0, 2, 1, 3, 4]),
//!                  [b, heads, -1, head_dim])                          [b, heads, beams·L, head_dim]
//! scores = MatMul(q', Transpose(past_key))                            [b, heads, beams·L, source]
//! out'   = MatMul(p, past_value)                                      [b, heads, beams·L, head_dim]
//! out    = Reshape(Transpose(Reshape(out', [b, heads, -1, L, head_dim]), [0, 2, 1, 3, 4]),
//!                  Shape(q))                                           [rows, heads, L, head_dim]
//! ```
//!
//! The mask (from `encoder_attention_mask`, then one row per input too) broadcasts over the
//! beams for one new token per row, which is how evalrun decodes (more than one new token per
//! row with more than one beam fails loudly on the shapes). With one row per input
//! (greedy decoding), every reshape and transpose leaves the numbers where they were and the
//! products are the export's. With beams the products become small matrix products instead
//! of per-row ones, which round differently in the last bits (measured: 4e-6 at most on
//! T5-base logits); beam search's strings are checked against transformers' in the tests.
//!
//! What is checked, per node list (a graph, or one `If` branch): every reader of those cache
//! inputs is such a cross-attention (or a `Shape` of which only later dimensions are taken), each
//! layer has both, and the product with the values comes after the scores; otherwise the list is
//! left as it is, and the caller repeats the rows as before unless every layer was rewritten.
//! What is assumed, as in T5's exports: the probabilities reach the product with the values
//! through row-wise operations only, and `encoder_attention_mask` and `encoder_hidden_states`
//! (then one row per input too) feed only the cross-attention; a graph that uses them otherwise
//! fails on the shapes rather than give other numbers, except with a single input per batch,
//! where every row's encoder side is the same anyway. Heads and head size are taken from the
//! query, so keys with fewer heads still broadcast as before.
//!
//! The edit is made while [`crate::weights`] rewrites the model's headers: a file that cannot be
//! read that way loads unedited. `--graph-edits -cross_attention` leaves every graph alone.

use std::collections::HashMap;

use crate::proto::{
    attr_int, attr_int64_tensor, attr_ints, int64_tensor_attr, int_attr, ints_attr, node,
    raw_fields, string, uses_prefix, view, Wiring,
};

const PREFIX: &str = "evalrun_cross/";

/// Rewrites the cross-attentions of one node list (a graph's or an `If` branch's) as in the
/// module docs; returns how many (`Ok(0)` when the list does not have that shape throughout).
pub(crate) fn share(nodes: &mut Vec<Vec<u8>>, opset: Option<i64>) -> Result<usize, &'static str> {
    if opset.is_none_or(|v| v < 13) {
        return Ok(0);
    }
    let views = nodes
        .iter()
        .map(|n| view(n))
        .collect::<Result<Vec<_>, _>>()?;
    if uses_prefix(&views, PREFIX) {
        return Ok(0);
    }
    let Wiring { producer, readers } = Wiring::new(&views, &[]);
    let cache = |name: &str, what: &str| -> Option<String> {
        name.strip_prefix("past_key_values.")?
            .strip_suffix(what)
            .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
    };
    // Per layer: (scores MatMul, output MatMul).
    let mut layers: Vec<(String, usize, Option<usize>)> = Vec::new();
    for (name, reading) in &readers {
        if let Some(layer) = cache(name, ".encoder.key") {
            // Read by one Transpose of the last two axes that one MatMul reads as its keys, and
            // perhaps by `Shape`s of which only other dimensions than the rows are taken.
            let mut transposes = reading.iter().filter(|&&r| views[r].op != "Shape");
            let (Some(&t), None) = (transposes.next(), transposes.next()) else {
                return Ok(0);
            };
            for &r in reading.iter().filter(|&&r| views[r].op == "Shape") {
                if !reads_only_later_dims(nodes, &views, &readers, &producer, r) {
                    return Ok(0);
                }
            }
            let tv = &views[t];
            if tv.op != "Transpose" || ints_attr(&nodes[t], "perm") != Some(vec![0, 1, 3, 2]) {
                return Ok(0);
            }
            let Some(&[a]) = readers.get(tv.outputs[0].as_str()).map(Vec::as_slice) else {
                return Ok(0);
            };
            let av = &views[a];
            if av.op != "MatMul" || av.inputs.len() != 2 || av.inputs[1] != tv.outputs[0] {
                return Ok(0);
            }
            layers.push((layer, a, None));
        }
    }
    for (name, reading) in &readers {
        if let Some(layer) = cache(name, ".encoder.value") {
            let [b] = reading[..] else { return Ok(0) };
            let bv = &views[b];
            if bv.op != "MatMul" || bv.inputs.len() != 2 || bv.inputs[1] != *name {
                return Ok(0);
            }
            match layers.iter_mut().find(|(l, _, _)| *l == layer) {
                Some(entry) if entry.2.is_none() => entry.2 = Some(b),
                _ => return Ok(0),
            }
        }
    }
    if layers.is_empty() || layers.iter().any(|(_, a, b)| b.is_none_or(|b| b <= *a)) {
        return Ok(0);
    }
    let constant = |name: &str, values: &[i64]| {
        node("Constant", &[], name, name, &[attr_int64_tensor(values)])
    };
    let c = |what: &str| format!("{PREFIX}{what}");
    let mut before: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
    let mut after: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
    let mut renamed: HashMap<usize, Vec<u8>> = HashMap::new();
    for (layer, a, b) in &layers {
        let b = b.expect("checked");
        let p = |what: &str| format!("{PREFIX}{layer}/{what}");
        let op = |op: &str, inputs: &[&str], out: &str| node(op, inputs, out, out, &[]);
        let concat =
            |inputs: &[&str], out: &str| node("Concat", inputs, out, out, &[attr_int("axis", 0)]);
        let key = format!("past_key_values.{layer}.encoder.key");
        let q = views[*a].inputs[0].as_str();
        let swap = |out: &str| {
            node(
                "Transpose",
                &[&p(&format!("{out}_in"))],
                &p(out),
                &p(out),
                &[attr_ints("perm", &[0, 2, 1, 3, 4])],
            )
        };
        before.insert(
            *a,
            vec![
                op("Shape", &[&key], &p("key_shape")),
                op("Slice", &[&p("key_shape"), &c("0"), &c("1")], &p("b")),
                // Heads and head size from the query: keys with fewer heads broadcast.
                op("Shape", &[q], &p("q_shape")),
                op("Slice", &[&p("q_shape"), &c("1"), &c("2")], &p("heads")),
                op("Slice", &[&p("q_shape"), &c("3"), &c("4")], &p("head_dim")),
                op("Slice", &[&p("q_shape"), &c("1"), &c("4")], &p("q_tail")),
                concat(&[&p("b"), &c("minus_one"), &p("q_tail")], &p("q5_shape")),
                op("Reshape", &[q, &p("q5_shape")], &p("q5_in")),
                swap("q5"),
                concat(
                    &[&p("b"), &p("heads"), &c("minus_one"), &p("head_dim")],
                    &p("q4_shape"),
                ),
                op("Reshape", &[&p("q5"), &p("q4_shape")], &p("q")),
            ],
        );
        renamed.insert(*a, with_first(&nodes[*a], Some(&p("q")), None)?);
        let out = views[b].outputs[0].as_str();
        renamed.insert(b, with_first(&nodes[b], None, Some(&p("out4")))?);
        after.insert(
            b,
            vec![
                op(
                    "Slice",
                    &[&p("q_shape"), &c("2"), &c("4")],
                    &p("q_rows_tail"),
                ),
                concat(
                    &[&p("b"), &p("heads"), &c("minus_one"), &p("q_rows_tail")],
                    &p("out5_shape"),
                ),
                op("Reshape", &[&p("out4"), &p("out5_shape")], &p("out5_in")),
                swap("out5"),
                op("Reshape", &[&p("out5"), &p("q_shape")], out),
            ],
        );
    }
    let mut out = vec![
        constant(&c("0"), &[0]),
        constant(&c("1"), &[1]),
        constant(&c("2"), &[2]),
        constant(&c("3"), &[3]),
        constant(&c("4"), &[4]),
        constant(&c("minus_one"), &[-1]),
    ];
    for (i, n) in nodes.drain(..).enumerate() {
        out.extend(before.remove(&i).unwrap_or_default());
        out.push(renamed.remove(&i).unwrap_or(n));
        out.extend(after.remove(&i).unwrap_or_default());
    }
    *nodes = out;
    Ok(layers.len())
}

/// Whether the outputs of `Shape` node `s` (no `start`/`end`) are read only by `Gather`s on axis
/// 0 whose index is a `Constant` other than the first dimension (the rows, which change).
fn reads_only_later_dims(
    nodes: &[Vec<u8>],
    views: &[crate::proto::NodeView],
    readers: &HashMap<&str, Vec<usize>>,
    producer: &HashMap<&str, usize>,
    s: usize,
) -> bool {
    if int_attr(&nodes[s], "start").is_some() || int_attr(&nodes[s], "end").is_some() {
        return false;
    }
    let Some(reading) = readers.get(views[s].outputs[0].as_str()) else {
        return true;
    };
    reading.iter().all(|&g| {
        let v = &views[g];
        v.op == "Gather"
            && v.inputs.len() == 2
            && v.inputs[0] == views[s].outputs[0]
            && int_attr(&nodes[g], "axis").unwrap_or(0) == 0
            && producer
                .get(v.inputs[1].as_str())
                .filter(|&&c| views[c].op == "Constant")
                .and_then(|&c| int64_tensor_attr(&nodes[c], "value"))
                .is_some_and(|index| !index.is_empty() && index.iter().all(|&i| i > 0))
    })
}

/// The node with its first input and/or first output renamed.
fn with_first(
    n: &[u8],
    input: Option<&str>,
    output: Option<&str>,
) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(n.len() + 32);
    let (mut input, mut output) = (input, output);
    for (number, _, raw) in raw_fields(n)? {
        match number {
            1 => match input.take() {
                Some(name) => string(&mut out, 1, name),
                None => out.extend_from_slice(raw),
            },
            2 => match output.take() {
                Some(name) => string(&mut out, 2, name),
                None => out.extend_from_slice(raw),
            },
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::describe;

    fn op(op: &str, inputs: &[&str], output: &str) -> Vec<u8> {
        node(op, inputs, output, output, &[])
    }

    /// One layer's cross-attention as the T5 decoder export (with past) has it; the key length
    /// for the position bias comes from `Shape(key)[index]`.
    fn layer(index: i64) -> Vec<Vec<u8>> {
        let key = "past_key_values.0.encoder.key";
        vec![
            node(
                "Constant",
                &[],
                "two",
                "two",
                &[attr_int64_tensor(&[index])],
            ),
            op("Shape", &[key], "key_shape"),
            node(
                "Gather",
                &["key_shape", "two"],
                "key_len",
                "key_len",
                &[attr_int("axis", 0)],
            ),
            node(
                "Transpose",
                &[key],
                "k_t",
                "k_t",
                &[attr_ints("perm", &[0, 1, 3, 2])],
            ),
            op("MatMul", &["q", "k_t"], "scores"),
            op("Add", &["scores", "bias"], "masked"),
            op("Softmax", &["masked"], "p"),
            op("MatMul", &["p", "past_key_values.0.encoder.value"], "o"),
            op("Transpose", &["o"], "o_t"),
        ]
    }

    /// Every input is a graph input or made by an earlier node.
    fn in_order(nodes: &[Vec<u8>], graph_inputs: &[&str]) -> bool {
        let mut known: Vec<String> = graph_inputs.iter().map(|s| s.to_string()).collect();
        nodes.iter().all(|n| {
            let v = view(n).unwrap();
            let ok = v.inputs.iter().all(|i| known.contains(i));
            known.extend(v.outputs);
            ok
        })
    }

    #[test]
    fn cross_attention_takes_one_row_per_input() {
        let inputs = [
            "q",
            "bias",
            "past_key_values.0.encoder.key",
            "past_key_values.0.encoder.value",
        ];
        let mut nodes = layer(2);
        assert_eq!(share(&mut nodes, Some(18)), Ok(1));
        let ops = describe(&nodes);
        let has = |s: &str| ops.iter().any(|o| o == s);
        assert!(has("MatMul(evalrun_cross/0/q,k_t)->scores"), "{ops:#?}");
        assert!(has(
            "Reshape(q,evalrun_cross/0/q5_shape)->evalrun_cross/0/q5_in"
        ));
        assert!(has(
            "MatMul(p,past_key_values.0.encoder.value)->evalrun_cross/0/out4"
        ));
        assert!(has(
            "Reshape(evalrun_cross/0/out5,evalrun_cross/0/q_shape)->o"
        ));
        assert!(has("Transpose(o)->o_t"));
        assert!(in_order(&nodes, &inputs), "{ops:#?}");
        // Once is enough: a second pass finds our names and leaves the graph alone.
        let before = nodes.clone();
        assert_eq!(share(&mut nodes, Some(18)), Ok(0));
        assert_eq!(nodes, before);
    }

    #[test]
    fn other_readers_of_the_cache_leave_the_graph_alone() {
        type Case = (&'static str, Vec<Vec<u8>>, Option<i64>);
        let cases: Vec<Case> = vec![
            ("the rows taken from the key's shape", layer(0), Some(18)),
            ("opset 12", layer(2), Some(12)),
            ("no opset", layer(2), None),
            (
                "the value read twice",
                {
                    let mut l = layer(2);
                    l.push(op("Identity", &["past_key_values.0.encoder.value"], "v2"));
                    l
                },
                Some(18),
            ),
            (
                "the keys without their values",
                {
                    let mut l = layer(2);
                    l.retain(|n| !view(n).unwrap().inputs.iter().any(|i| i.ends_with("value")));
                    l
                },
                Some(18),
            ),
            (
                "the transposed keys read twice",
                {
                    let mut l = layer(2);
                    l.push(op("Identity", &["k_t"], "k_t2"));
                    l
                },
                Some(18),
            ),
        ];
        for (what, mut nodes, opset) in cases {
            let before = nodes.clone();
            assert_eq!(share(&mut nodes, opset), Ok(0), "{what}");
            assert_eq!(nodes, before, "{what}");
        }
    }
}
