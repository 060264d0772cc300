//! Dataset readers: tab-separated files (original GLUE layouts, STS Benchmark) with optional
//! labels from a JSONL file.
//!
//! Quoting is disabled: GLUE sentences contain `"` characters that are data. A UTF-8 byte
//! order mark on the first line (MRPC's dev file has one) is dropped, as is a trailing `\r`.
//! Every example keeps its 0-based row index (header excluded) as its id.

use std::path::{Path, PathBuf};

use evalrun_core::{Example, Gold};
use sha2::{Digest, Sha256};

use crate::error::DataError;
use crate::spec::{JsonlLabels, LabelSpec, SplitSpec, TaskSpec};

/// The examples of one split, with where they came from.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub split: String,
    pub path: PathBuf,
    /// sha256 of the data file (and of the label file, when labels live apart).
    pub sha256: String,
    pub labels_sha256: Option<String>,
    pub examples: Vec<Example>,
}

/// Reads `split` of `task` from `data_dir`.
pub fn load_split(task: &TaskSpec, split: &str, data_dir: &Path) -> Result<Dataset, DataError> {
    let spec = task
        .splits
        .get(split)
        .ok_or_else(|| DataError::NoSuchSplit {
            task: task.name.clone(),
            split: split.to_string(),
            available: task
                .splits
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let path = data_dir.join(&spec.path);
    let bytes = read(task, split, &path)?;
    let sha256 = hex_sha256(&bytes);
    let mut examples = parse_tsv(&path, &bytes, spec, &task.labels)?;
    let mut labels_sha256 = None;
    if let Some(labels) = &spec.labels_from {
        let labels_path = data_dir.join(&labels.path);
        let label_bytes = read(task, split, &labels_path)?;
        labels_sha256 = Some(hex_sha256(&label_bytes));
        attach_jsonl_labels(
            &labels_path,
            &label_bytes,
            labels,
            &task.labels,
            &path,
            &mut examples,
        )?;
    }
    Ok(Dataset {
        split: split.to_string(),
        path,
        sha256,
        labels_sha256,
        examples,
    })
}

fn read(task: &TaskSpec, split: &str, path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                task: task.name.clone(),
                split: split.to_string(),
                path: path.to_path_buf(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits a file into (1-based line number, line) pairs without line endings, dropping the
/// empty remainder after a final newline.
pub(crate) fn lines<'a>(path: &Path, bytes: &'a [u8]) -> Result<Vec<(usize, &'a str)>, DataError> {
    let mut out = Vec::new();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut parts: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if parts.last().is_some_and(|l| l.is_empty()) {
        parts.pop();
    }
    for (i, raw) in parts.into_iter().enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|_| DataError::Encoding {
            path: path.to_path_buf(),
            line: i + 1,
        })?;
        out.push((i + 1, line));
    }
    Ok(out)
}

fn parse_tsv(
    path: &Path,
    bytes: &[u8],
    spec: &SplitSpec,
    labels: &LabelSpec,
) -> Result<Vec<Example>, DataError> {
    let mut fields: Vec<(&str, usize)> = vec![("text_a", spec.text_a)];
    fields.extend(spec.text_b.map(|c| ("text_b", c)));
    fields.extend(spec.label.map(|c| ("label", c)));
    fields.extend(spec.index.map(|c| ("index", c)));
    let widest = fields
        .iter()
        .map(|(_, c)| *c)
        .max()
        .expect("text_a is always present");

    let mut examples = Vec::new();
    for (line_no, line) in lines(path, bytes)?
        .into_iter()
        .skip(usize::from(spec.header))
    {
        let columns: Vec<&str> = line.split('\t').collect();
        if columns.len() <= widest {
            // Name the first field the row lacks.
            let (field, column) = fields
                .iter()
                .copied()
                .filter(|(_, c)| *c >= columns.len())
                .min_by_key(|(_, c)| *c)
                .expect("some field is missing");
            return Err(DataError::TooFewColumns {
                path: path.to_path_buf(),
                line: line_no,
                expected: widest + 1,
                found: columns.len(),
                field: field.to_string(),
                column,
            });
        }
        let id = examples.len();
        let gold = match spec.label {
            Some(c) => Some(parse_label(labels, columns[c], path, line_no, "label")?),
            None => None,
        };
        examples.push(Example {
            id,
            text_a: columns[spec.text_a].to_string(),
            text_b: spec.text_b.map(|c| columns[c].to_string()),
            gold,
            index: Some(
                spec.index
                    .map_or_else(|| id.to_string(), |c| columns[c].to_string()),
            ),
        });
    }
    Ok(examples)
}

fn parse_label(
    labels: &LabelSpec,
    raw: &str,
    path: &Path,
    line: usize,
    field: &str,
) -> Result<Gold, DataError> {
    let value = raw.trim();
    match labels {
        LabelSpec::Classification { names, values, .. } => {
            let values = values.as_deref().unwrap_or(names);
            values
                .iter()
                .position(|v| v == value)
                .map(Gold::Class)
                .ok_or_else(|| DataError::UnknownLabel {
                    path: path.to_path_buf(),
                    line,
                    field: field.to_string(),
                    value: value.to_string(),
                    expected: values
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        }
        LabelSpec::Regression {} => value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Gold::Score)
            .ok_or_else(|| DataError::NotANumber {
                path: path.to_path_buf(),
                line,
                field: field.to_string(),
                value: value.to_string(),
            }),
    }
}

fn attach_jsonl_labels(
    labels_path: &Path,
    bytes: &[u8],
    spec: &JsonlLabels,
    labels: &LabelSpec,
    texts_path: &Path,
    examples: &mut [Example],
) -> Result<(), DataError> {
    let mut golds = Vec::new();
    for (line_no, line) in lines(labels_path, bytes)? {
        if line.trim().is_empty() {
            continue;
        }
        let json_error = |message: String| DataError::Json {
            path: labels_path.to_path_buf(),
            line: line_no,
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| json_error(e.to_string()))?;
        let raw = match value.get(&spec.field) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => {
                return Err(json_error(format!(
                    "field `{}` is missing or not a string, boolean or number",
                    spec.field
                )))
            }
        };
        golds.push(parse_label(
            labels,
            &raw,
            labels_path,
            line_no,
            &spec.field,
        )?);
    }
    if golds.len() != examples.len() {
        return Err(DataError::LabelCountMismatch {
            labels: labels_path.to_path_buf(),
            texts: texts_path.to_path_buf(),
            found: golds.len(),
            expected: examples.len(),
        });
    }
    for (example, gold) in examples.iter_mut().zip(golds) {
        example.gold = Some(gold);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mrpc_like() -> (SplitSpec, LabelSpec) {
        let split = SplitSpec {
            path: "x".into(),
            header: true,
            text_a: 3,
            text_b: Some(4),
            label: Some(0),
            index: None,
            labels_from: None,
            hub: None,
        };
        let labels = LabelSpec::Classification {
            names: vec!["not_equivalent".into(), "equivalent".into()],
            values: Some(vec!["0".into(), "1".into()]),
            positive: Some("equivalent".into()),
            head: None,
        };
        (split, labels)
    }

    #[test]
    fn quotes_are_data_and_bom_and_crlf_are_dropped() {
        let (split, labels) = mrpc_like();
        let text = "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t1\t2\t\"He said\t\"it's\"\r\n0\t3\t4\ta\tb\n";
        let ex = parse_tsv(Path::new("dev.tsv"), text.as_bytes(), &split, &labels).unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].text_a, "\"He said");
        assert_eq!(ex[0].text_b.as_deref(), Some("\"it's\""));
        assert_eq!(ex[0].gold, Some(Gold::Class(1)));
        assert_eq!((ex[1].id, ex[1].gold), (1, Some(Gold::Class(0))));
    }

    #[test]
    fn short_rows_name_file_line_and_field() {
        let (split, labels) = mrpc_like();
        let text = "h\nh\nh\nh\nh\n1\t1\t2\tonly a\n";
        let err = parse_tsv(
            Path::new("dev.tsv"),
            text.replace("h\nh\nh\nh\n", "").as_bytes(),
            &split,
            &labels,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`dev.tsv` line 2") && msg.contains("text_b") && msg.contains("found 4"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_labels_and_bad_numbers_are_errors() {
        let (split, labels) = mrpc_like();
        let err = parse_tsv(Path::new("d.tsv"), b"h\n2\ta\tb\tc\td\n", &split, &labels)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("unknown label `2`") && err.contains("`0`, `1`"),
            "{err}"
        );
        let split = SplitSpec {
            label: Some(2),
            text_a: 0,
            text_b: None,
            ..split
        };
        let err = parse_tsv(
            Path::new("s.tsv"),
            b"h\na\tb\tfive\n",
            &split,
            &LabelSpec::Regression {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 2") && err.contains("`five`"), "{err}");
    }

    #[test]
    fn jsonl_labels_accept_strings_booleans_and_numbers() {
        let labels = LabelSpec::Classification {
            names: vec!["false".into(), "true".into()],
            values: None,
            positive: None,
            head: None,
        };
        let mut examples: Vec<Example> = (0..3)
            .map(|id| Example {
                id,
                text_a: "t".into(),
                text_b: None,
                gold: None,
                index: None,
            })
            .collect();
        let spec = JsonlLabels {
            path: "l.jsonl".into(),
            field: "label".into(),
        };
        let text = b"{\"label\": true}\n{\"label\": \"false\"}\n{\"label\": \"true\"}\n";
        attach_jsonl_labels(
            Path::new("l.jsonl"),
            text,
            &spec,
            &labels,
            Path::new("t.tsv"),
            &mut examples,
        )
        .unwrap();
        let golds: Vec<_> = examples.iter().map(|e| e.gold).collect();
        assert_eq!(
            golds,
            [
                Some(Gold::Class(1)),
                Some(Gold::Class(0)),
                Some(Gold::Class(1))
            ]
        );
        let err = attach_jsonl_labels(
            Path::new("l.jsonl"),
            b"{}\n",
            &spec,
            &labels,
            Path::new("t.tsv"),
            &mut examples,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 1") && err.contains("`label`"), "{err}");
    }
}
