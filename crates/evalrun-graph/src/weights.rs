//! Reading a model's headers once and writing the `ModelProto` ONNX Runtime loads: its weights
//! referenced in place (the `weights_in_place` edit) and its nodes edited on the way.
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

use crate::edits::attention_blocks::{self, Blocks};
use crate::edits::{cross_attention, lm_head, nan_guards};
use crate::proto::{
    default_opset, edit_subgraphs, int_field, message, string, value_info_name, varint, view,
    Fields, Value,
};

/// Initializers smaller than this stay inside the rewritten `ModelProto` (the threshold of
/// `onnx.save_model(..., save_as_external_data=True)`): shapes and scalars that graph
/// optimisers read are not worth a mapping.
pub const MIN_BYTES: u64 = 1024;

/// What one pass over the file does: which edits it attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Replace large `raw_data` by references to its bytes in the file; else copy them.
    pub reference_weights: bool,
    pub nan_guards: bool,
    /// Append the scoring nodes (or, with `lm_head`, end the gathered head in them).
    pub log_softmax: bool,
    pub lm_head: bool,
    pub attention_blocks: Option<Blocks>,
    pub cross_attention: bool,
}

/// What a pass made: the `ModelProto` to load, the folder its external-data references
/// resolve in (canonical), and what each edit did.
#[derive(Debug)]
pub(crate) struct Rewritten {
    pub bytes: Vec<u8>,
    pub folder: PathBuf,
    /// Initializers turned into references to the model file itself.
    pub referenced: usize,
    /// Initializers that were external-data references already.
    pub external_before: usize,
    pub nan_guards: usize,
    /// `Ok(())` when the scoring nodes were added, else why not.
    pub log_softmax: Result<(), String>,
    pub head_gathered: bool,
    pub attention_blocks: usize,
    pub cross_attention: usize,
}

fn folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The folder of `path`, canonical where it can be: where ONNX Runtime resolves the
/// external-data references of a model loaded from memory.
pub(crate) fn model_folder(path: &Path) -> PathBuf {
    std::fs::canonicalize(folder(path)).unwrap_or_else(|_| folder(path))
}

/// Reads `path`'s headers and writes the model with the edits of `plan` made, or says why it
/// cannot (the caller then loads the file as it is).
pub(crate) fn rewrite(path: &Path, plan: Plan) -> Result<Rewritten, String> {
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
        plan,
        referenced: 0,
        external_before: 0,
        nan_guards: 0,
        log_softmax: Err("not asked for".into()),
        head_gathered: false,
        attention_blocks: 0,
        cross_attention: 0,
    };
    let mut bytes = rewrite.model(&mut stream).map_err(|e| match e.kind() {
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
    let folder = self::folder(&real);
    if rewrite.external_before > 0 && model_folder(path) != folder {
        return Err(format!(
            "`{}` links to `{}` and its weights are in external data files beside the link",
            path.display(),
            real.display()
        ));
    }
    if rewrite.log_softmax.is_ok() {
        lm_head::extend(&mut bytes, rewrite.head_gathered).map_err(|e| e.0)?;
    }
    Ok(Rewritten {
        bytes,
        folder,
        referenced: rewrite.referenced,
        external_before: rewrite.external_before,
        nan_guards: rewrite.nan_guards,
        log_softmax: rewrite.log_softmax,
        head_gathered: rewrite.head_gathered,
        attention_blocks: rewrite.attention_blocks,
        cross_attention: rewrite.cross_attention,
    })
}

/// The ONNX field numbers walked here.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const GRAPH_INITIALIZER: u64 = 5;
const GRAPH_INPUT: u64 = 11;
const GRAPH_OUTPUT: u64 = 12;
const TENSOR_RAW_DATA: u64 = 9;
const TENSOR_EXTERNAL_DATA: u64 = 13;
const TENSOR_DATA_LOCATION: u64 = 14;
const EXTERNAL: i64 = 1;
const LENGTH_DELIMITED: u64 = 2;

struct Rewrite {
    location: String,
    plan: Plan,
    referenced: usize,
    external_before: usize,
    nan_guards: usize,
    log_softmax: Result<(), String>,
    head_gathered: bool,
    attention_blocks: usize,
    cross_attention: usize,
}

/// A graph as read: its fields but the nodes and outputs, already encoded; its nodes; its
/// inputs' names; its outputs (name, encoded field).
struct Graph {
    fields: Vec<u8>,
    nodes: Vec<Vec<u8>>,
    inputs: Vec<String>,
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
        let plan = self.plan;
        let opset = default_opset(&out).map_err(invalid)?;
        if plan.nan_guards {
            let outputs = output_names(&graph);
            self.nan_guards += nan_guards::strip(&mut graph.nodes, &outputs).map_err(invalid)?;
        }
        if plan.log_softmax {
            let outputs = output_names(&graph);
            self.log_softmax = lm_head::can_extend(opset, &graph.inputs, &outputs);
        }
        if plan.lm_head && self.log_softmax.is_ok() {
            self.head_gathered = lm_head::gather_head(&mut graph.nodes, opset).map_err(invalid)?;
            if self.head_gathered {
                graph.outputs.retain(|(name, _)| name != "logits");
            }
        }
        if let Some(blocks) = plan.attention_blocks {
            let outputs = output_names(&graph);
            self.attention_blocks =
                attention_blocks::causal_blocks(&mut graph.nodes, opset, &outputs, blocks)
                    .map_err(invalid)?;
        }
        if plan.cross_attention {
            let mut share = |nodes: &mut Vec<Vec<u8>>| cross_attention::share(nodes, opset);
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
            self.cross_attention = count;
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
            inputs: Vec::new(),
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
            } else if key == (GRAPH_INPUT << 3 | LENGTH_DELIMITED) {
                let start = g.fields.len();
                s.copy_field(key, &mut g.fields)?;
                g.inputs
                    .push(field_name(&g.fields[start..]).map_err(invalid)?);
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
                if length >= MIN_BYTES && self.plan.reference_weights {
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

/// The name of a graph input or output: the `name` of the `ValueInfoProto` in one encoded
/// field.
fn field_name(field: &[u8]) -> Result<String, &'static str> {
    let value = match Fields::new(field).next() {
        Some(Ok((_, Value::Bytes(v)))) => v,
        _ => return Err("a graph input or output is not a message"),
    };
    value_info_name(value).ok_or("a graph input or output has no name")
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

    const PLAN: Plan = Plan {
        reference_weights: true,
        nan_guards: false,
        log_softmax: false,
        lm_head: false,
        attention_blocks: None,
        cross_attention: false,
    };

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
        let m = rewrite(&path, PLAN).unwrap();
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
        let m = rewrite(&link, PLAN).unwrap();
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
        let err = rewrite(&cut, PLAN).unwrap_err();
        assert!(err.contains("not a readable ONNX ModelProto"), "{err}");
        let missing = rewrite(&dir.path().join("none.onnx"), PLAN).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
