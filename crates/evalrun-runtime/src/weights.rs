//! Loading a model with its weights read once.
//!
//! Given an `.onnx` file that holds its weights, ONNX Runtime parses the whole `ModelProto` into
//! memory and then copies every initializer into a tensor of its own, so GPT-2 124M (a 498 MB
//! file) held up to three copies of its weights at once while loading. Instead, evalrun reads
//! only the file's protobuf headers and writes a short copy of the `ModelProto` in which every
//! top-level initializer's `raw_data` of at least [`MIN_BYTES`] is replaced by an ONNX
//! external-data reference to the place those bytes already occupy in the same file
//! (`location` = the file's own name, `offset`, `length`, `data_location = EXTERNAL`). ONNX
//! Runtime, told which folder to resolve `location` in, reads each of those ranges straight
//! into its tensor (measured: GPT-2 124M's peak RSS while loading fell from 1443 to 1055 MiB).
//! Initializers that already live in external data files (models over 2 GB) are referenced as
//! they are, so those models load from memory too. The weights are the same bytes either way,
//! so every score is bit-identical.
//!
//! The file is read with ordinary positional reads, header by header: the weights themselves
//! are skipped, never read here.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::attention_blocks::Blocks;
use crate::proto::{
    default_opset, edit_subgraphs, int_field, message, node, string, top_level_views,
    value_info_name, varint, view, Fields, Value, Wiring,
};

/// Initializers smaller than this stay inside the rewritten `ModelProto` (the threshold of
/// `onnx.save_model(..., save_as_external_data=True)`): shapes and scalars that graph
/// optimisers read are not worth a mapping.
pub const MIN_BYTES: u64 = 1024;

/// Whether sessions reference weights in place: yes unless `EVALRUN_MAP_WEIGHTS=0` (to
/// measure the difference, or to rule this path out when a model fails to load).
pub fn enabled() -> bool {
    std::env::var("EVALRUN_MAP_WEIGHTS").map_or(true, |v| v != "0")
}

/// A model ready for ONNX Runtime's load-from-memory: the rewritten `ModelProto` and the
/// folder (canonical) its external-data references are resolved in.
#[derive(Debug)]
pub struct InPlace {
    pub bytes: Vec<u8>,
    pub folder: PathBuf,
    /// Initializers turned into references to the model file itself.
    pub referenced: usize,
    /// Attention NaN guards taken out ([`strip_nan_guards`]).
    pub nan_guards: usize,
    /// Whether the LM head was given only the scored positions
    /// ([`crate::scoring_graph::gather_head`]).
    pub head_gathered: bool,
    /// Causal attentions given a blocked branch ([`crate::attention_blocks`]).
    pub attention_blocks: usize,
    /// Cross-attentions that read one row of encoder keys and values per input
    /// ([`crate::cross_attention`]).
    pub cross_attention_shared: usize,
}

/// Edits made to the graph's nodes while its headers are rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edits {
    /// Take the attention NaN guards out ([`strip_nan_guards`]).
    pub strip_nan_guards: bool,
    /// Feed the LM head only the positions asked for ([`crate::scoring_graph::gather_head`]).
    pub gather_head: bool,
    /// Compute long windows' causal attention in blocks of rows ([`crate::attention_blocks`]);
    /// for causal LMs only.
    pub attention_blocks: Option<Blocks>,
    /// Let cross-attention read one row of cached encoder keys and values per input, for all
    /// of its beams ([`crate::cross_attention`]); for seq2seq decoders only.
    pub share_cross_attention: bool,
}

impl Edits {
    /// What every session gets: the NaN guards go unless `EVALRUN_NAN_GUARDS=keep`.
    pub fn from_env() -> Self {
        Self {
            strip_nan_guards: std::env::var("EVALRUN_NAN_GUARDS").map_or(true, |v| v != "keep"),
            gather_head: false,
            attention_blocks: None,
            share_cross_attention: false,
        }
    }

    /// What a causal LM scored in the graph gets: [`Edits::from_env`], its head gathered unless
    /// `EVALRUN_HEAD_GATHER=0`, its attention blocked unless `EVALRUN_ATTENTION_BLOCKS=0`.
    pub fn causal_lm_from_env() -> Self {
        Self {
            gather_head: crate::scoring_graph::gather_head_from_env(),
            attention_blocks: crate::attention_blocks::enabled_from_env().then(Blocks::default),
            ..Self::from_env()
        }
    }

    /// What a seq2seq decoder gets: [`Edits::from_env`], its cross-attention shared by the
    /// beams unless `EVALRUN_SHARE_CROSS_ATTENTION=0`.
    pub fn seq2seq_decoder_from_env() -> Self {
        Self {
            share_cross_attention: crate::cross_attention::enabled_from_env(),
            ..Self::from_env()
        }
    }
}

impl InPlace {
    /// The whole file as it is (`EVALRUN_MAP_WEIGHTS=0`): ONNX Runtime copies the weights.
    pub fn whole(path: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Ok(Self {
            bytes,
            folder: std::fs::canonicalize(folder(path)).unwrap_or_else(|_| folder(path)),
            referenced: 0,
            nan_guards: 0,
            head_gathered: false,
            attention_blocks: 0,
            cross_attention_shared: 0,
        })
    }
}

fn folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads `path`'s headers and returns the model with its weights referenced in place and its
/// attention NaN guards taken out (unless `EVALRUN_NAN_GUARDS=keep`), or why it cannot (the
/// caller then loads the file as it is).
pub fn in_place(path: &Path) -> Result<InPlace, String> {
    in_place_with(path, Edits::from_env())
}

/// [`in_place`], saying which edits to make.
pub fn in_place_with(path: &Path, edits: Edits) -> Result<InPlace, String> {
    let why = |e: io::Error| format!("cannot read `{}`: {e}", path.display());
    // The reference names the file itself, so it must name the real file: in a Hugging Face
    // cache `snapshots/<rev>/model.onnx` is a link into `blobs/`, and ONNX Runtime refuses a
    // reference that resolves outside the folder it is given.
    let real = std::fs::canonicalize(path).map_err(why)?;
    let location = real
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("`{}` has no UTF-8 file name", real.display()))?
        .to_string();
    let file = File::open(&real).map_err(why)?;
    let len = file.metadata().map_err(why)?.len();
    let mut stream = Stream {
        reader: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        len,
    };
    let mut rewrite = Rewrite {
        location,
        referenced: 0,
        external_before: 0,
        edits,
        nan_guards: 0,
        head_gathered: false,
        attention_blocks: 0,
        cross_attention_shared: 0,
    };
    let bytes = rewrite.model(&mut stream).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            format!(
                "`{}` is not a readable ONNX ModelProto: {e}",
                path.display()
            )
        }
        _ => why(e),
    })?;
    // References the export already had are relative to the folder the model was found in;
    // they and ours can share one folder only if the model file is not a link out of it.
    let folder = folder(&real);
    if rewrite.external_before > 0
        && std::fs::canonicalize(self::folder(path)).ok().as_ref() != Some(&folder)
    {
        return Err(format!(
            "`{}` links to `{}` and its weights are in external data files beside the link",
            path.display(),
            real.display()
        ));
    }
    Ok(InPlace {
        bytes,
        folder,
        referenced: rewrite.referenced,
        nan_guards: rewrite.nan_guards,
        head_gathered: rewrite.head_gathered,
        attention_blocks: rewrite.attention_blocks,
        cross_attention_shared: rewrite.cross_attention_shared,
    })
}

/// The ONNX field numbers walked here.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const GRAPH_INITIALIZER: u64 = 5;
const GRAPH_OUTPUT: u64 = 12;
const TENSOR_RAW_DATA: u64 = 9;
const TENSOR_EXTERNAL_DATA: u64 = 13;
const TENSOR_DATA_LOCATION: u64 = 14;
const EXTERNAL: i64 = 1;
const LENGTH_DELIMITED: u64 = 2;

struct Rewrite {
    location: String,
    referenced: usize,
    /// Initializers that were external-data references already.
    external_before: usize,
    edits: Edits,
    nan_guards: usize,
    head_gathered: bool,
    attention_blocks: usize,
    cross_attention_shared: usize,
}

/// A graph as read: its fields but the nodes and outputs, already encoded; its nodes; its
/// outputs (name, encoded field).
struct Graph {
    fields: Vec<u8>,
    nodes: Vec<Vec<u8>>,
    outputs: Vec<(String, Vec<u8>)>,
}

impl Rewrite {
    fn model(&mut self, s: &mut Stream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut graph = None;
        let end = s.len;
        while s.pos < end {
            let key = s.varint()?;
            if key == (MODEL_GRAPH << 3 | LENGTH_DELIMITED) {
                let end = s.end_of_message()?;
                graph = Some(self.graph(s, end)?);
            } else {
                s.copy_field(key, &mut out)?;
            }
        }
        // The graph is written last (field order is free), once the opset — usually stored
        // after it — is known to the edits.
        let mut graph = graph.ok_or_else(|| invalid("no graph"))?;
        let output_names =
            |g: &Graph| -> Vec<String> { g.outputs.iter().map(|(n, _)| n.clone()).collect() };
        let opset = if self.edits.gather_head
            || self.edits.attention_blocks.is_some()
            || self.edits.share_cross_attention
        {
            default_opset(&out).map_err(invalid)?
        } else {
            None
        };
        if self.edits.strip_nan_guards {
            let outputs = output_names(&graph);
            self.nan_guards += strip_nan_guards(&mut graph.nodes, &outputs).map_err(invalid)?;
        }
        if self.edits.gather_head {
            self.head_gathered =
                crate::scoring_graph::gather_head(&mut graph.nodes, opset).map_err(invalid)?;
            if self.head_gathered {
                graph.outputs.retain(|(name, _)| name != "logits");
            }
        }
        if let Some(blocks) = self.edits.attention_blocks {
            let outputs = output_names(&graph);
            self.attention_blocks =
                crate::attention_blocks::causal_blocks(&mut graph.nodes, opset, &outputs, blocks)
                    .map_err(invalid)?;
        }
        if self.edits.share_cross_attention {
            let mut share = |nodes: &mut Vec<Vec<u8>>| crate::cross_attention::share(nodes, opset);
            let mut count = share(&mut graph.nodes).map_err(invalid)?;
            for n in &mut graph.nodes {
                if matches!(view(n).map_err(invalid)?.op.as_str(), "If") {
                    let (edited, shared) = edit_subgraphs(n, &mut share).map_err(invalid)?;
                    if shared > 0 {
                        *n = edited;
                        count += shared;
                    }
                }
            }
            self.cross_attention_shared = count;
        }
        let mut bytes = graph.fields;
        for (_, field) in &graph.outputs {
            bytes.extend_from_slice(field);
        }
        for node in &graph.nodes {
            message(&mut bytes, GRAPH_NODE, node);
        }
        message(&mut out, MODEL_GRAPH, &bytes);
        Ok(out)
    }

    fn graph(&mut self, s: &mut Stream, end: u64) -> io::Result<Graph> {
        let mut g = Graph {
            fields: Vec::new(),
            nodes: Vec::new(),
            outputs: Vec::new(),
        };
        while s.pos < end {
            let key = s.varint()?;
            if key == (GRAPH_INITIALIZER << 3 | LENGTH_DELIMITED) {
                let end = s.end_of_message()?;
                let tensor = self.tensor(s, end)?;
                message(&mut g.fields, GRAPH_INITIALIZER, &tensor);
            } else if key == (GRAPH_NODE << 3 | LENGTH_DELIMITED) {
                let n = s.varint()?;
                g.nodes.push(s.bytes(n)?);
            } else if key == (GRAPH_OUTPUT << 3 | LENGTH_DELIMITED) {
                let mut field = Vec::new();
                s.copy_field(key, &mut field)?;
                g.outputs
                    .push((field_name(&field).map_err(invalid)?, field));
            } else {
                s.copy_field(key, &mut g.fields)?;
            }
        }
        s.at(end)?;
        Ok(g)
    }

    fn tensor(&mut self, s: &mut Stream, end: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut data = None;
        while s.pos < end {
            let key = s.varint()?;
            if key == (TENSOR_RAW_DATA << 3 | LENGTH_DELIMITED) {
                let length = s.varint()?;
                if length >= MIN_BYTES {
                    data = Some((s.pos, length));
                    s.skip(length)?;
                } else {
                    varint(&mut out, key);
                    varint(&mut out, length);
                    out.extend_from_slice(&s.bytes(length)?);
                }
            } else if key == TENSOR_DATA_LOCATION << 3 {
                let location = s.varint()?;
                varint(&mut out, key);
                varint(&mut out, location);
                if location == EXTERNAL as u64 {
                    self.external_before += 1;
                }
            } else {
                s.copy_field(key, &mut out)?;
            }
        }
        s.at(end)?;
        if let Some((offset, length)) = data {
            for (k, v) in [
                ("location", self.location.clone()),
                ("offset", offset.to_string()),
                ("length", length.to_string()),
            ] {
                let mut entry = Vec::new();
                string(&mut entry, 1, k);
                string(&mut entry, 2, &v);
                message(&mut out, TENSOR_EXTERNAL_DATA, &entry);
            }
            int_field(&mut out, TENSOR_DATA_LOCATION, EXTERNAL);
            self.referenced += 1;
        }
        Ok(out)
    }
}

/// The name of a graph output: the `name` of the `ValueInfoProto` in one encoded field.
fn field_name(field: &[u8]) -> Result<String, &'static str> {
    let value = match Fields::new(field).next() {
        Some(Ok((_, Value::Bytes(v)))) => v,
        _ => return Err("a graph output is not a message"),
    };
    value_info_name(value).ok_or("a graph output has no name")
}

/// Takes out the NaN guard that PyTorch's ONNX export of `scaled_dot_product_attention` puts
/// after every attention softmax, `Where(IsNaN(p), 0, p)` with `p = Softmax(scores)`: each is
/// two full passes over a `[batch, heads, tokens, tokens]` tensor (a quarter of GPT-2's
/// forward time at 1024 tokens on this CPU). The `Where` becomes `Identity(p)` under its own
/// name, which ONNX Runtime's optimiser removes; the `IsNaN` and the zero `Constant` go when
/// nothing else reads them. A softmax gives NaN only for a row whose every key is masked, and
/// evalrun never builds one: batches are padded on the right and every row starts with a real
/// token, so each query sees at least that key. Graphs with subgraphs (`If`, `Loop`, `Scan`)
/// are left as they are. Returns how many guards were taken out.
pub fn strip_nan_guards(
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

/// A forward reader over the model file that knows its position.
struct Stream {
    reader: BufReader<File>,
    pos: u64,
    len: u64,
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl Stream {
    fn byte(&mut self) -> io::Result<u8> {
        let mut b = [0u8];
        self.reader.read_exact(&mut b)?;
        self.pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("varint too long"))
    }

    /// A length prefix, checked against the file, turned into the end position.
    fn end_of_message(&mut self) -> io::Result<u64> {
        let n = self.varint()?;
        self.pos
            .checked_add(n)
            .filter(|&end| end <= self.len)
            .ok_or_else(|| invalid("a field runs past the end of the file"))
    }

    fn bytes(&mut self, n: u64) -> io::Result<Vec<u8>> {
        if self.pos + n > self.len {
            return Err(invalid("a field runs past the end of the file"));
        }
        let mut v = vec![0u8; n as usize];
        self.reader.read_exact(&mut v)?;
        self.pos += n;
        Ok(v)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        if self.pos + n > self.len {
            return Err(invalid("a field runs past the end of the file"));
        }
        let n = i64::try_from(n).map_err(|_| invalid("field too long"))?;
        self.reader.seek_relative(n)?;
        self.pos += n as u64;
        Ok(())
    }

    fn at(&self, end: u64) -> io::Result<()> {
        if self.pos == end {
            Ok(())
        } else {
            Err(invalid("a message's fields overrun its length"))
        }
    }

    /// Copies the field whose key was just read, unchanged.
    fn copy_field(&mut self, key: u64, out: &mut Vec<u8>) -> io::Result<()> {
        varint(out, key);
        match key & 7 {
            0 => {
                let v = self.varint()?;
                varint(out, v);
            }
            1 => out.extend_from_slice(&self.bytes(8)?),
            5 => out.extend_from_slice(&self.bytes(4)?),
            2 => {
                let n = self.varint()?;
                varint(out, n);
                out.extend_from_slice(&self.bytes(n)?);
            }
            _ => return Err(invalid("unknown wire type")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::describe as ops;

    /// ModelProto { ir_version, graph { name, initializer: [big, small] }, opset }.
    fn model(big: &[u8]) -> Vec<u8> {
        let tensor = |name: &str, data: &[u8]| {
            let mut t = Vec::new();
            int_field(&mut t, 1, data.len() as i64 / 4);
            int_field(&mut t, 2, 1);
            string(&mut t, 8, name);
            message(&mut t, TENSOR_RAW_DATA, data);
            t
        };
        let mut graph = Vec::new();
        string(&mut graph, 2, "g");
        message(&mut graph, GRAPH_INITIALIZER, &tensor("w", big));
        message(&mut graph, GRAPH_INITIALIZER, &tensor("b", &[7u8; 8]));
        let mut m = Vec::new();
        int_field(&mut m, 1, 8);
        message(&mut m, MODEL_GRAPH, &graph);
        let mut op = Vec::new();
        int_field(&mut op, 2, 14);
        message(&mut m, 8, &op);
        m
    }

    fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("model.onnx");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn large_raw_data_becomes_a_reference_to_its_own_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let file = model(&big);
        let path = write(dir.path(), &file);
        let m = in_place(&path).unwrap();
        assert_eq!(m.referenced, 1);
        assert_eq!(m.folder, dir.path());
        assert!(m.bytes.len() < 200, "{} bytes", m.bytes.len());
        // Walk the rewritten model: the big tensor points at exactly its bytes in the file,
        // the small one keeps its data, every other field survives.
        let mut tensors = Vec::new();
        let mut top = Vec::new();
        for f in Fields::new(&m.bytes) {
            match f.unwrap() {
                (7, Value::Bytes(g)) => {
                    for f in Fields::new(g) {
                        if let (5, Value::Bytes(t)) = f.unwrap() {
                            tensors.push(t.to_vec());
                        }
                    }
                }
                (n, _) => top.push(n),
            }
        }
        assert_eq!(top, [1, 8]);
        let mut external = std::collections::BTreeMap::new();
        let (mut location, mut raw) = (None, None);
        for f in Fields::new(&tensors[0]) {
            match f.unwrap() {
                (13, Value::Bytes(e)) => {
                    let kv: Vec<String> = Fields::new(e)
                        .map(|f| match f.unwrap() {
                            (_, Value::Bytes(s)) => String::from_utf8(s.to_vec()).unwrap(),
                            _ => unreachable!(),
                        })
                        .collect();
                    external.insert(kv[0].clone(), kv[1].clone());
                }
                (14, Value::Varint(v)) => location = Some(v),
                (9, _) => raw = Some(()),
                _ => {}
            }
        }
        assert_eq!(location, Some(1));
        assert!(raw.is_none());
        assert_eq!(external["location"], "model.onnx");
        let offset: usize = external["offset"].parse().unwrap();
        let length: usize = external["length"].parse().unwrap();
        assert_eq!(&file[offset..offset + length], &big[..]);
        let small_data = Fields::new(&tensors[1]).find_map(|f| match f.unwrap() {
            (9, Value::Bytes(d)) => Some(d.to_vec()),
            _ => None,
        });
        assert_eq!(small_data.unwrap(), [7u8; 8]);
    }

    /// A Hugging Face cache: `snapshots/<rev>/model.onnx` links to `blobs/<hash>`, and the
    /// reference must name the blob in its own folder.
    #[cfg(unix)]
    #[test]
    fn linked_models_reference_the_real_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs")).unwrap();
        std::fs::create_dir_all(dir.path().join("snapshots/rev")).unwrap();
        std::fs::write(dir.path().join("blobs/f093a5"), model(&[3u8; 2048])).unwrap();
        let link = dir.path().join("snapshots/rev/model.onnx");
        std::os::unix::fs::symlink("../../blobs/f093a5", &link).unwrap();
        let m = in_place(&link).unwrap();
        assert_eq!(m.referenced, 1);
        assert_eq!(
            m.folder,
            std::fs::canonicalize(dir.path().join("blobs")).unwrap()
        );
        assert!(m.bytes.windows(6).any(|w| w == b"f093a5"));
    }

    #[test]
    fn damaged_files_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let file = model(&[1u8; 2048]);
        let cut = write(dir.path(), &file[..file.len() - 100]);
        let err = in_place(&cut).unwrap_err();
        assert!(err.contains("not a readable ONNX ModelProto"), "{err}");
        let missing = in_place(&dir.path().join("none.onnx")).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }

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
        assert_eq!(strip_nan_guards(&mut nodes, &["o".into()]), Ok(1));
        assert_eq!(
            ops(&nodes),
            ["Softmax(s)->p", "Identity(p)->w", "MatMul(w,v)->o"]
        );
        // The NaN mask read elsewhere, or the zero: they stay (the guard still goes).
        let mut nodes = attention(vec![node("Cast", &["zero"], "z2")]);
        assert_eq!(strip_nan_guards(&mut nodes, &[]), Ok(1));
        assert!(ops(&nodes).contains(&"Constant()->zero".to_string()));
        let mut nodes = attention(vec![]);
        assert_eq!(strip_nan_guards(&mut nodes, &["nan".into()]), Ok(0));
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
            assert_eq!(strip_nan_guards(&mut nodes, &[]), Ok(0));
            assert_eq!(nodes, before);
        }
    }
}
