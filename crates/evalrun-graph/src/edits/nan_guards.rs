//! NaN-guard removal: the `Where(IsNaN(p), 0, p)` PyTorch's export puts after every attention
//! softmax goes (see [`strip`]). Numerically a no-op for every row evalrun builds.

use crate::proto::{node, top_level_views, Wiring};

/// Takes out the NaN guard that PyTorch's ONNX export of `scaled_dot_product_attention` puts
/// after every attention softmax, `Where(IsNaN(p), 0, p)` with `p = Softmax(scores)`: each is
/// two full passes over a `[batch, heads, tokens, tokens]` tensor (a quarter of GPT-2's
/// forward time at 1024 tokens on this CPU). The `Where` becomes `Identity(p)` under its own
/// name, which ONNX Runtime's optimiser removes; the `IsNaN` and the zero `Constant` go when
/// nothing else reads them. A softmax gives NaN only for a row whose every key is masked, and
/// evalrun never builds one: batches are padded on the right and every row starts with a real
/// token, so each query sees at least that key. Graphs with subgraphs (`If`, `Loop`, `Scan`)
/// are left as they are. Returns how many guards were taken out.
pub(crate) fn strip(
    nodes: &mut Vec<Vec<u8>>,
    graph_outputs: &[String],
) -> Result<usize, &'static str> {
    let Some(views) = top_level_views(nodes)? else {
        return Ok(0);
    };
    let wiring = Wiring::new(&views, graph_outputs);
    let producer = &wiring.producer;
    let made_by = |name: &str, op: &str| producer.get(name).copied().filter(|&i| views[i].op == op);
    let (mut drop, mut identity) = (vec![false; nodes.len()], Vec::new());
    for (w, v) in views.iter().enumerate() {
        let [cond, zero, p] = v.inputs.as_slice() else {
            continue;
        };
        if v.op != "Where" || v.outputs.len() != 1 {
            continue;
        }
        let Some(isnan) = made_by(cond, "IsNaN") else {
            continue;
        };
        if views[isnan].inputs.first() != Some(p)
            || made_by(p, "Softmax").is_none()
            || wiring.read_count(cond) != 1
        {
            continue;
        }
        drop[isnan] = true;
        if let Some(c) = made_by(zero, "Constant") {
            if wiring.read_count(zero) == 1 {
                drop[c] = true;
            }
        }
        identity.push((w, p.clone()));
    }
    for (w, p) in &identity {
        let v = &views[*w];
        nodes[*w] = node("Identity", &[p], &v.outputs[0], &v.name, &[]);
    }
    let mut i = 0;
    nodes.retain(|_| {
        i += 1;
        !drop[i - 1]
    });
    Ok(identity.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::describe as ops;

    fn node(op: &str, inputs: &[&str], output: &str) -> Vec<u8> {
        crate::proto::node(op, inputs, output, &format!("{op}_{output}"), &[])
    }

    /// The pattern of PyTorch's `scaled_dot_product_attention` export, and near misses.
    #[test]
    fn nan_guards_after_softmax_become_identities() {
        let attention = |extra: Vec<Vec<u8>>| {
            let mut nodes = vec![
                node("Softmax", &["s"], "p"),
                node("IsNaN", &["p"], "nan"),
                node("Constant", &[], "zero"),
                node("Where", &["nan", "zero", "p"], "w"),
                node("MatMul", &["w", "v"], "o"),
            ];
            nodes.extend(extra);
            nodes
        };
        let mut nodes = attention(vec![]);
        assert_eq!(strip(&mut nodes, &["o".into()]), Ok(1));
        assert_eq!(
            ops(&nodes),
            ["Softmax(s)->p", "Identity(p)->w", "MatMul(w,v)->o"]
        );
        // The NaN mask read elsewhere, or the zero: they stay (the guard still goes).
        let mut nodes = attention(vec![node("Cast", &["zero"], "z2")]);
        assert_eq!(strip(&mut nodes, &[]), Ok(1));
        assert!(ops(&nodes).contains(&"Constant()->zero".to_string()));
        let mut nodes = attention(vec![]);
        assert_eq!(strip(&mut nodes, &["nan".into()]), Ok(0));
        assert_eq!(nodes.len(), 5);
        // Not a softmax, the wrong branch, or a graph with subgraphs: untouched.
        for mut nodes in [
            {
                let mut n = attention(vec![]);
                n[0] = node("Relu", &["s"], "p");
                n
            },
            {
                let mut n = attention(vec![]);
                n[3] = node("Where", &["nan", "p", "zero"], "w");
                n
            },
            attention(vec![node("If", &["c"], "x")]),
        ] {
            let before = nodes.clone();
            assert_eq!(strip(&mut nodes, &[]), Ok(0));
            assert_eq!(nodes, before);
        }
    }
}
