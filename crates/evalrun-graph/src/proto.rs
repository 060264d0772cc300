//! The protobuf wire format, just enough to walk an ONNX `ModelProto`'s fields without decoding
//! it (the weights are never touched) and to write a few short messages.

pub(crate) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

pub(crate) fn read_varint(bytes: &mut &[u8]) -> Result<u64, &'static str> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first().ok_or("truncated varint")?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long")
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = (|| {
            let key = read_varint(&mut self.rest)?;
            let value = match key & 7 {
                0 => Value::Varint(read_varint(&mut self.rest)?),
                1 | 5 => {
                    let n = if key & 7 == 1 { 8 } else { 4 };
                    if self.rest.len() < n {
                        return Err("truncated fixed field");
                    }
                    self.rest = &self.rest[n..];
                    Value::Fixed
                }
                2 => {
                    let n = read_varint(&mut self.rest)? as usize;
                    if self.rest.len() < n {
                        return Err("truncated length-delimited field");
                    }
                    let (v, rest) = self.rest.split_at(n);
                    self.rest = rest;
                    Value::Bytes(v)
                }
                _ => return Err("unknown wire type"),
            };
            Ok((key >> 3, value))
        })();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

/// A field: its number, its value and its encoded bytes (key included).
pub(crate) type RawField<'a> = (u64, Value<'a>, &'a [u8]);

/// An edit of a node list, returning how many things it changed.
pub(crate) type NodeEdit<'a> = dyn FnMut(&mut Vec<Vec<u8>>) -> Result<usize, &'static str> + 'a;

/// Every field of a message with its encoded bytes, for copying fields as they are.
pub(crate) fn raw_fields(bytes: &[u8]) -> Result<Vec<RawField<'_>>, &'static str> {
    let mut out = Vec::new();
    let mut fields = Fields::new(bytes);
    let mut at = 0;
    while let Some(field) = fields.next() {
        let (number, value) = field?;
        let end = bytes.len() - fields.rest.len();
        out.push((number, value, &bytes[at..end]));
        at = end;
    }
    Ok(out)
}

/// `node` with `edit` applied to the node list of each of its graph attributes (an `If`'s
/// branches, a `Loop`'s or `Scan`'s body); the sum of `edit`'s counts.
pub(crate) fn edit_subgraphs(
    node: &[u8],
    edit: &mut NodeEdit<'_>,
) -> Result<(Vec<u8>, usize), &'static str> {
    let mut out = Vec::with_capacity(node.len());
    let mut count = 0;
    for (number, value, raw) in raw_fields(node)? {
        let (5, Value::Bytes(attribute)) = (number, value) else {
            out.extend_from_slice(raw);
            continue;
        };
        let mut a = Vec::with_capacity(attribute.len());
        for (number, value, raw) in raw_fields(attribute)? {
            let (6, Value::Bytes(graph)) = (number, value) else {
                a.extend_from_slice(raw);
                continue;
            };
            let mut g = Vec::with_capacity(graph.len());
            let mut nodes = Vec::new();
            for (number, value, raw) in raw_fields(graph)? {
                match (number, value) {
                    (1, Value::Bytes(n)) => nodes.push(n.to_vec()),
                    _ => g.extend_from_slice(raw),
                }
            }
            count += edit(&mut nodes)?;
            for n in &nodes {
                message(&mut g, 1, n);
            }
            message(&mut a, 6, &g);
        }
        message(&mut out, 5, &a);
    }
    Ok((out, count))
}

pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn int_field(out: &mut Vec<u8>, number: u64, v: i64) {
    varint(out, number << 3);
    varint(out, v as u64);
}

pub(crate) fn message(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    varint(out, (number << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub(crate) fn string(out: &mut Vec<u8>, number: u64, s: &str) {
    message(out, number, s.as_bytes());
}

/// NodeProto { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 }
pub(crate) fn node(
    op: &str,
    inputs: &[&str],
    output: &str,
    name: &str,
    attributes: &[Vec<u8>],
) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        string(&mut n, 1, i);
    }
    string(&mut n, 2, output);
    string(&mut n, 3, name);
    string(&mut n, 4, op);
    for a in attributes {
        message(&mut n, 5, a);
    }
    n
}

/// AttributeProto { name = 1, i = 3, type = 20 (INT = 2) }
pub(crate) fn attr_int(name: &str, v: i64) -> Vec<u8> {
    let mut a = Vec::new();
    string(&mut a, 1, name);
    int_field(&mut a, 3, v);
    int_field(&mut a, 20, 2);
    a
}

/// AttributeProto { name = 1, ints = 8 (repeated), type = 20 (INTS = 7) }
pub(crate) fn attr_ints(name: &str, values: &[i64]) -> Vec<u8> {
    let mut a = Vec::new();
    string(&mut a, 1, name);
    for &v in values {
        int_field(&mut a, 8, v);
    }
    int_field(&mut a, 20, 7);
    a
}

/// AttributeProto { name = 1, g = 6: GraphProto, type = 20 (GRAPH = 5) }
pub(crate) fn attr_graph(name: &str, graph: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    string(&mut a, 1, name);
    message(&mut a, 6, graph);
    int_field(&mut a, 20, 5);
    a
}

/// AttributeProto { name = "value", t = 5: TensorProto { dims = 1: [n], data_type = 2: INT64,
/// raw_data = 9 }, type = 20 (TENSOR = 4) }: a one-dimensional int64 tensor, for `Constant`.
pub(crate) fn attr_int64_tensor(values: &[i64]) -> Vec<u8> {
    let mut t = Vec::new();
    int_field(&mut t, 1, values.len() as i64);
    int_field(&mut t, 2, 7);
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    message(&mut t, 9, &raw);
    let mut a = Vec::new();
    string(&mut a, 1, "value");
    message(&mut a, 5, &t);
    int_field(&mut a, 20, 4);
    a
}

/// The encoded `AttributeProto`s (field 5) of a node, by name.
fn attribute<'a>(node: &'a [u8], name: &str) -> Option<&'a [u8]> {
    Fields::new(node).find_map(|f| match f {
        Ok((5, Value::Bytes(a)))
            if Fields::new(a)
                .any(|f| matches!(f, Ok((1, Value::Bytes(n))) if n == name.as_bytes())) =>
        {
            Some(a)
        }
        _ => None,
    })
}

/// A node's integer attribute (`AttributeProto.i`, field 3), if it has one by that name.
pub(crate) fn int_attr(node: &[u8], name: &str) -> Option<i64> {
    Fields::new(attribute(node, name)?).find_map(|f| match f {
        Ok((3, Value::Varint(v))) => Some(v as i64),
        _ => None,
    })
}

/// A node's integer-list attribute (`AttributeProto.ints`, field 8, packed or not).
pub(crate) fn ints_attr(node: &[u8], name: &str) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    for f in Fields::new(attribute(node, name)?) {
        match f.ok()? {
            (8, Value::Varint(v)) => out.push(v as i64),
            (8, Value::Bytes(mut packed)) => {
                while !packed.is_empty() {
                    out.push(read_varint(&mut packed).ok()? as i64);
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// The values of a node's int64 tensor attribute (`AttributeProto.t`, field 5: `TensorProto` with
/// `data_type` INT64 and `int64_data` or `raw_data`), e.g. a `Constant`'s `value`.
pub(crate) fn int64_tensor_attr(node: &[u8], name: &str) -> Option<Vec<i64>> {
    let tensor = Fields::new(attribute(node, name)?).find_map(|f| match f {
        Ok((5, Value::Bytes(t))) => Some(t),
        _ => None,
    })?;
    let (mut int64, mut values) = (false, Vec::new());
    for f in Fields::new(tensor) {
        match f.ok()? {
            (2, Value::Varint(7)) => int64 = true,
            (7, Value::Varint(v)) => values.push(v as i64),
            (7, Value::Bytes(mut packed)) => {
                while !packed.is_empty() {
                    values.push(read_varint(&mut packed).ok()? as i64);
                }
            }
            (9, Value::Bytes(raw)) if raw.len() % 8 == 0 => values.extend(
                raw.chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))),
            ),
            _ => {}
        }
    }
    int64.then_some(values)
}

/// The `name` (field 1) of a `ValueInfoProto`, given its bytes.
pub(crate) fn value_info_name(bytes: &[u8]) -> Option<String> {
    Fields::new(bytes).find_map(|f| match f {
        Ok((1, Value::Bytes(name))) => Some(String::from_utf8_lossy(name).into_owned()),
        _ => None,
    })
}

/// A node's op type, inputs and outputs.
pub(crate) struct NodeView {
    pub(crate) op: String,
    pub(crate) inputs: Vec<String>,
    pub(crate) outputs: Vec<String>,
    pub(crate) name: String,
}

pub(crate) fn view(node: &[u8]) -> Result<NodeView, &'static str> {
    let mut v = NodeView {
        op: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        name: String::new(),
    };
    for f in Fields::new(node) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match f? {
            (1, Value::Bytes(b)) => v.inputs.push(text(b)),
            (2, Value::Bytes(b)) => v.outputs.push(text(b)),
            (3, Value::Bytes(b)) => v.name = text(b),
            (4, Value::Bytes(b)) => v.op = text(b),
            // A non-default domain (field 7): not an ONNX operator, leave the graph alone.
            (7, Value::Bytes(b)) if !b.is_empty() && b != b"ai.onnx" => v.op.clear(),
            _ => {}
        }
    }
    Ok(v)
}

/// A node list's views, unless it has subgraphs (`If`, `Loop`, `Scan`), which the edits leave
/// alone: their names are not all visible at the top level.
pub(crate) fn top_level_views(nodes: &[Vec<u8>]) -> Result<Option<Vec<NodeView>>, &'static str> {
    let views = nodes
        .iter()
        .map(|n| view(n))
        .collect::<Result<Vec<_>, _>>()?;
    let subgraphs = views
        .iter()
        .any(|v| matches!(v.op.as_str(), "If" | "Loop" | "Scan"));
    Ok((!subgraphs).then_some(views))
}

/// Whether any node reads or makes a name that starts with `prefix` (an edit's own names: the
/// graph was edited already).
pub(crate) fn uses_prefix(views: &[NodeView], prefix: &str) -> bool {
    views.iter().any(|v| {
        v.inputs
            .iter()
            .chain(&v.outputs)
            .any(|n| n.starts_with(prefix))
    })
}

/// Who reads a graph output: outside the graph.
pub(crate) const OUTSIDE: usize = usize::MAX;

/// Which node makes each name, and which nodes read it ([`OUTSIDE`] for a graph output).
pub(crate) struct Wiring<'a> {
    pub(crate) producer: std::collections::HashMap<&'a str, usize>,
    pub(crate) readers: std::collections::HashMap<&'a str, Vec<usize>>,
}

impl<'a> Wiring<'a> {
    pub(crate) fn new(views: &'a [NodeView], graph_outputs: &'a [String]) -> Self {
        let mut w = Wiring {
            producer: Default::default(),
            readers: Default::default(),
        };
        for (i, v) in views.iter().enumerate() {
            for o in &v.outputs {
                w.producer.insert(o.as_str(), i);
            }
            for input in &v.inputs {
                w.readers.entry(input.as_str()).or_default().push(i);
            }
        }
        for o in graph_outputs {
            w.readers.entry(o.as_str()).or_default().push(OUTSIDE);
        }
        w
    }

    /// How many readers `name` has, the graph's outputs counted.
    pub(crate) fn read_count(&self, name: &str) -> usize {
        self.readers.get(name).map_or(0, Vec::len)
    }
}

/// The version of the default-domain (`""` or `ai.onnx`) opset a `ModelProto` imports (field 8).
pub(crate) fn default_opset(model: &[u8]) -> Result<Option<i64>, &'static str> {
    let mut found = None;
    for field in Fields::new(model) {
        if let (8, Value::Bytes(opset)) = field? {
            let (mut domain, mut version) = (&b""[..], None);
            for f in Fields::new(opset) {
                match f? {
                    (1, Value::Bytes(d)) => domain = d,
                    (2, Value::Varint(v)) => version = Some(v as i64),
                    _ => {}
                }
            }
            if domain.is_empty() || domain == b"ai.onnx" {
                found = version.or(found);
            }
        }
    }
    Ok(found)
}

/// `Op(inputs)->outputs` for each node: what tests compare graphs by.
#[cfg(test)]
pub(crate) fn describe(nodes: &[Vec<u8>]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| {
            let v = view(n).unwrap();
            format!("{}({})->{}", v.op, v.inputs.join(","), v.outputs.join(","))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_back() {
        let n = node(
            "Transpose",
            &["x"],
            "y",
            "t",
            &[attr_ints("perm", &[0, 1, 3, 2]), attr_int("axis", -1)],
        );
        assert_eq!(ints_attr(&n, "perm"), Some(vec![0, 1, 3, 2]));
        let c = node("Constant", &[], "c", "c", &[attr_int64_tensor(&[2, -1])]);
        assert_eq!(int64_tensor_attr(&c, "value"), Some(vec![2, -1]));
        assert_eq!(int64_tensor_attr(&c, "other"), None);
        assert_eq!(int_attr(&n, "axis"), Some(-1));
        assert_eq!(int_attr(&n, "perm"), None);
        assert_eq!(ints_attr(&n, "missing"), None);
        // Packed encoding (what proto3 writers emit).
        let mut a = Vec::new();
        string(&mut a, 1, "perm");
        let mut packed = Vec::new();
        for v in [0u64, 2, 1, 3] {
            varint(&mut packed, v);
        }
        message(&mut a, 8, &packed);
        let n = node("Transpose", &["x"], "y", "t", &[a]);
        assert_eq!(ints_attr(&n, "perm"), Some(vec![0, 2, 1, 3]));
    }

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            let mut out = Vec::new();
            varint(&mut out, v);
            assert_eq!(read_varint(&mut out.as_slice()).unwrap(), v);
        }
    }
}
