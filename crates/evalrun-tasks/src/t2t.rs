//! T5 text-to-text tasks (`tasks/t5/*.toml`): readers that give each row the feature dict TFDS
//! gives T5, and T5's preprocessors, byte for byte (t5/data/preprocessors.py `glue`, `stsb`,
//! `squad`, `summarize`, `translate`; ../shared/PROTOCOLS.md §3).
//!
//! ```toml
//! name = "mrpc"                 # result key, the same as the BERT task's
//! version = 1
//! suite = "glue"
//! description = "…"
//! protocol = "…"
//! labels = ["not_equivalent", "equivalent"]   # TFDS label_classes: the target strings
//! metrics = ["f1", "accuracy"]
//! table_metric = "f1"
//! max_new_tokens = 8
//!
//! [preprocess]
//! kind = "glue"                 # glue | stsb | squad | summarize | translate
//! benchmark = "mrpc"            # the input prefix
//! fields = ["sentence1", "sentence2"]   # T5's order: sorted keys unless the task names one
//!
//! [splits.dev]
//! format = "tsv"                # tsv | jsonl | multirc | squad | parallel
//! path = "glue/MRPC/senteval_tokenized/dev.tsv"
//! header = true
//! columns = { sentence1 = 3, sentence2 = 4 }
//! label = "0"                   # tsv: column number; jsonl: key
//! label_values = ["0", "1"]     # how the file spells each label (default: `labels`)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::{hex_sha256, lines};
use crate::error::{DataError, TaskError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct T2tTaskSpec {
    /// The task file's kind (`head`, `lm`, `text_to_text`): which request section follows.
    #[serde(default)]
    pub kind: Option<crate::catalog::TaskKind>,
    pub name: String,
    pub version: u32,
    /// `glue`, `superglue`, or a standalone suite (`squad`, `wmt`, `cnndm`).
    pub suite: String,
    /// What `--task` also accepts within the suite (`rte` for SuperGLUE's RTE).
    #[serde(default)]
    pub alias: Option<String>,
    pub description: String,
    pub protocol: String,
    /// Target strings by class index (classification tasks).
    #[serde(default)]
    pub labels: Vec<String>,
    pub metrics: Vec<String>,
    pub table_metric: String,
    pub max_new_tokens: usize,
    /// Beam search defaults for the task (the paper's width 4, α 0.6 for WMT and CNN/DM); greedy
    /// when absent. `--beams` overrides.
    #[serde(default)]
    pub beams: Option<usize>,
    #[serde(default)]
    pub length_penalty: Option<f64>,
    pub preprocess: Preprocess,
    pub default_split: String,
    pub splits: BTreeMap<String, T2tSplit>,
    /// Splits on the Hugging Face Hub (Parquet), used when no `--data-dir` is given.
    #[serde(default)]
    pub hub: BTreeMap<String, crate::parquet::HubSplit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Preprocess {
    /// `preprocessors.glue`: `"<benchmark> <key>: <value> …"`; MultiRC markup removed.
    Glue {
        benchmark: String,
        fields: Vec<String>,
        #[serde(default)]
        strip_html: bool,
    },
    /// `preprocessors.stsb`: target `round(score·5)/5` printed with one decimal.
    Stsb,
    /// `preprocessors.squad`: `"question: <q> context: <c>"`, punctuation padded.
    Squad,
    /// `preprocessors.summarize`: `"summarize: <article>"`.
    Summarize,
    /// `preprocessors.translate`: `"translate <Source> to <Target>: <text>"`.
    Translate { source: String, target: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase", deny_unknown_fields)]
pub enum T2tSplit {
    Tsv {
        path: String,
        header: bool,
        columns: BTreeMap<String, usize>,
        #[serde(default)]
        label: Option<usize>,
        #[serde(default)]
        label_values: Option<Vec<String>>,
    },
    Jsonl {
        path: String,
        fields: Vec<String>,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        label_values: Option<Vec<String>>,
    },
    /// SuperGLUE MultiRC: one example per answer option, paragraphs → questions → answers.
    Multirc { path: String },
    /// SQuAD v1.1 JSON: one example per question.
    Squad { path: String },
    /// Line-aligned source and reference files, plain text or WMT `.sgm`.
    Parallel { source: String, target: String },
}

impl T2tSplit {
    pub fn path(&self) -> &str {
        match self {
            T2tSplit::Tsv { path, .. }
            | T2tSplit::Jsonl { path, .. }
            | T2tSplit::Multirc { path }
            | T2tSplit::Squad { path } => path,
            T2tSplit::Parallel { source, .. } => source,
        }
    }
}

/// What an example is scored against.
#[derive(Debug, Clone, PartialEq)]
pub enum T2tGold {
    Class(usize),
    Score(f32),
    /// SQuAD: every gold answer as written.
    Answers(Vec<String>),
    Text(String),
}

/// One row as T5's preprocessor sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct T2tRow {
    /// 0-based example index in file order (MultiRC: the answer option, flattened).
    pub id: usize,
    /// 1-based line of the file the row came from (0 for whole-file JSON).
    pub line: usize,
    pub fields: BTreeMap<String, String>,
    pub gold: Option<T2tGold>,
    /// MultiRC question index (`idx.question`), T5's grouping for exact match.
    pub group: Option<u64>,
}

/// A preprocessed example.
#[derive(Debug, Clone, PartialEq)]
pub struct T2tExample {
    pub id: usize,
    pub input: String,
    /// T5's target string (`<unk>` on unlabelled rows).
    pub target: String,
    pub gold: Option<T2tGold>,
    pub group: Option<u64>,
    /// SQuAD: the punctuation-padded answers T5's own metric compares against.
    pub padded_answers: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct T2tDataset {
    pub split: String,
    pub path: PathBuf,
    pub sha256: String,
    pub examples: Vec<T2tExample>,
}

pub const KNOWN_METRICS: &[&str] = &[
    "accuracy",
    "f1",
    "mcc",
    "pearson",
    "spearman",
    "macro_f1",
    "exact_match",
    "t5_exact_match",
    "t5_f1",
    "bleu",
    "rouge1",
    "rouge2",
    "rougeLsum",
];

pub fn parse(file: &str, text: &str) -> Result<T2tTaskSpec, TaskError> {
    let invalid = |message: String| TaskError::Invalid {
        file: file.to_string(),
        message,
    };
    let spec: T2tTaskSpec = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    crate::error::check_metric_names(&spec.metrics, &spec.table_metric, KNOWN_METRICS)
        .map_err(invalid)?;
    if !spec.splits.contains_key(&spec.default_split) {
        return Err(invalid(format!(
            "default_split `{}` has no [splits.{}] table",
            spec.default_split, spec.default_split
        )));
    }
    Ok(spec)
}

/// Every embedded T5 task file (`tasks/t5/**`).
pub fn embedded() -> Result<Vec<T2tTaskSpec>, TaskError> {
    crate::EMBEDDED_TASKS
        .iter()
        .filter(|(f, _)| f.starts_with("t5/"))
        .map(|(f, t)| parse(&format!("tasks/{f}"), t))
        .collect()
}

/// Reads `split` of `task` under `data_dir` and preprocesses every row.
pub fn load(task: &T2tTaskSpec, split: &str, data_dir: &Path) -> Result<T2tDataset, DataError> {
    let spec = task
        .splits
        .get(split)
        .ok_or_else(|| DataError::NoSuchSplit {
            task: task.name.clone(),
            split: split.to_string(),
            available: task.splits.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
    let read = |relative: &str| -> Result<(PathBuf, Vec<u8>), DataError> {
        let path = data_dir.join(relative);
        match std::fs::read(&path) {
            Ok(bytes) => Ok((path, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DataError::Missing {
                task: task.name.clone(),
                split: split.to_string(),
                path,
            }),
            Err(source) => Err(DataError::Io { path, source }),
        }
    };
    let (path, bytes) = read(spec.path())?;
    let mut sha256 = hex_sha256(&bytes);
    let rows = match spec {
        T2tSplit::Tsv {
            header,
            columns,
            label,
            label_values,
            ..
        } => read_tsv(
            &path,
            &bytes,
            *header,
            columns,
            *label,
            label_values.as_deref(),
            task,
        )?,
        T2tSplit::Jsonl {
            fields,
            label,
            label_values,
            ..
        } => read_jsonl(
            &path,
            &bytes,
            fields,
            label.as_deref(),
            label_values.as_deref(),
            task,
        )?,
        T2tSplit::Multirc { .. } => read_multirc(&path, &bytes)?,
        T2tSplit::Squad { .. } => read_squad(&path, &bytes)?,
        T2tSplit::Parallel { target, .. } => {
            let (target_path, target_bytes) = read(target)?;
            sha256 = format!("{sha256}+{}", hex_sha256(&target_bytes));
            read_parallel(&path, &bytes, &target_path, &target_bytes)?
        }
    };
    let examples = rows
        .into_iter()
        .map(|row| preprocess(task, row))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|(line, message)| DataError::Malformed {
            path: path.clone(),
            line,
            message,
        })?;
    Ok(T2tDataset {
        split: split.to_string(),
        path,
        sha256,
        examples,
    })
}

// --- readers ---------------------------------------------------------------------------------

fn class_of(value: &str, label_values: Option<&[String]>, task: &T2tTaskSpec) -> Option<usize> {
    let spellings = label_values.unwrap_or(&task.labels);
    spellings.iter().position(|v| v == value)
}

fn read_tsv(
    path: &Path,
    bytes: &[u8],
    header: bool,
    columns: &BTreeMap<String, usize>,
    label: Option<usize>,
    label_values: Option<&[String]>,
    task: &T2tTaskSpec,
) -> Result<Vec<T2tRow>, DataError> {
    let regression = matches!(task.preprocess, Preprocess::Stsb);
    let mut rows = Vec::new();
    for (line, text) in lines(path, bytes)?.into_iter().skip(usize::from(header)) {
        let cells: Vec<&str> = text.split('\t').collect();
        let cell = |field: &str, column: usize| {
            cells
                .get(column)
                .copied()
                .ok_or_else(|| DataError::TooFewColumns {
                    path: path.to_path_buf(),
                    line,
                    expected: column + 1,
                    found: cells.len(),
                    field: field.to_string(),
                    column,
                })
        };
        let mut fields = BTreeMap::new();
        for (name, &column) in columns {
            fields.insert(name.clone(), cell(name, column)?.to_string());
        }
        let gold = match label {
            None => None,
            Some(column) => {
                let value = cell("label", column)?;
                Some(if regression {
                    T2tGold::Score(value.trim().parse::<f32>().map_err(|_| {
                        DataError::NotANumber {
                            path: path.to_path_buf(),
                            line,
                            field: "label".into(),
                            value: value.to_string(),
                        }
                    })?)
                } else {
                    T2tGold::Class(class_of(value, label_values, task).ok_or_else(|| {
                        DataError::UnknownLabel {
                            path: path.to_path_buf(),
                            line,
                            field: "label".into(),
                            value: value.to_string(),
                            expected: label_values.unwrap_or(&task.labels).join(", "),
                        }
                    })?)
                })
            }
        };
        rows.push(T2tRow {
            id: rows.len(),
            line,
            fields,
            gold,
            group: None,
        });
    }
    Ok(rows)
}

/// A JSON label as a string: booleans and 0/1 become `False`/`True`-comparable spellings.
fn label_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Boolean labels appear as JSON booleans, 0/1 or "true"/"false" depending on the copy.
fn boolean_class(value: &str) -> Option<usize> {
    match value.to_ascii_lowercase().as_str() {
        "false" | "0" => Some(0),
        "true" | "1" => Some(1),
        _ => None,
    }
}

fn json_lines(path: &Path, bytes: &[u8]) -> Result<Vec<(usize, serde_json::Value)>, DataError> {
    lines(path, bytes)?
        .into_iter()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(line, text)| {
            serde_json::from_str(text)
                .map(|v| (line, v))
                .map_err(|e| DataError::Json {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                })
        })
        .collect()
}

fn read_jsonl(
    path: &Path,
    bytes: &[u8],
    fields: &[String],
    label: Option<&str>,
    label_values: Option<&[String]>,
    task: &T2tTaskSpec,
) -> Result<Vec<T2tRow>, DataError> {
    let boolean = task.labels == ["False", "True"];
    let mut rows = Vec::new();
    for (line, value) in json_lines(path, bytes)? {
        let mut map = BTreeMap::new();
        for field in fields {
            let text =
                value
                    .get(field)
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| DataError::Malformed {
                        path: path.to_path_buf(),
                        line,
                        message: format!("field `{field}` is missing or not a string"),
                    })?;
            map.insert(field.clone(), text.to_string());
        }
        let gold = match label.and_then(|l| value.get(l)) {
            None | Some(serde_json::Value::Null) => None,
            Some(raw) => {
                let text = label_text(raw).unwrap_or_default();
                let class = if boolean && label_values.is_none() {
                    boolean_class(&text)
                } else {
                    class_of(&text, label_values, task)
                };
                Some(T2tGold::Class(class.ok_or_else(|| {
                    DataError::UnknownLabel {
                        path: path.to_path_buf(),
                        line,
                        field: label.unwrap_or_default().to_string(),
                        value: raw.to_string(),
                        expected: label_values.unwrap_or(&task.labels).join(", "),
                    }
                })?))
            }
        };
        rows.push(T2tRow {
            id: rows.len(),
            line,
            fields: map,
            gold,
            group: None,
        });
    }
    Ok(rows)
}

fn read_multirc(path: &Path, bytes: &[u8]) -> Result<Vec<T2tRow>, DataError> {
    let mut rows = Vec::new();
    for (line, value) in json_lines(path, bytes)? {
        let bad = |message: &str| DataError::Malformed {
            path: path.to_path_buf(),
            line,
            message: message.to_string(),
        };
        let passage = value.get("passage").ok_or_else(|| bad("no `passage`"))?;
        let paragraph = passage
            .get("text")
            .and_then(|t| t.as_str())
            .ok_or_else(|| bad("no `passage.text`"))?;
        let questions = passage
            .get("questions")
            .and_then(|q| q.as_array())
            .ok_or_else(|| bad("no `passage.questions` list"))?;
        for q in questions {
            let question = q
                .get("question")
                .and_then(|t| t.as_str())
                .ok_or_else(|| bad("a question without `question` text"))?;
            let group = q
                .get("idx")
                .and_then(|i| i.as_u64())
                .ok_or_else(|| bad("a question without an integer `idx`"))?;
            let answers = q
                .get("answers")
                .and_then(|a| a.as_array())
                .ok_or_else(|| bad("a question without `answers`"))?;
            for a in answers {
                let answer = a
                    .get("text")
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| bad("an answer without `text`"))?;
                let gold = match a.get("label") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(raw) => Some(T2tGold::Class(
                        label_text(raw)
                            .as_deref()
                            .and_then(boolean_class)
                            .ok_or_else(|| bad(&format!("answer label {raw} is not a boolean")))?,
                    )),
                };
                let mut fields = BTreeMap::new();
                fields.insert("paragraph".to_string(), paragraph.to_string());
                fields.insert("question".to_string(), question.to_string());
                fields.insert("answer".to_string(), answer.to_string());
                rows.push(T2tRow {
                    id: rows.len(),
                    line,
                    fields,
                    gold,
                    group: Some(group),
                });
            }
        }
    }
    Ok(rows)
}

#[derive(Deserialize)]
struct SquadFile {
    data: Vec<SquadArticle>,
}
#[derive(Deserialize)]
struct SquadArticle {
    paragraphs: Vec<SquadParagraph>,
}
#[derive(Deserialize)]
struct SquadParagraph {
    context: String,
    qas: Vec<SquadQa>,
}
#[derive(Deserialize)]
struct SquadQa {
    question: String,
    #[serde(default)]
    answers: Vec<SquadAnswer>,
}
#[derive(Deserialize)]
struct SquadAnswer {
    text: String,
}

fn read_squad(path: &Path, bytes: &[u8]) -> Result<Vec<T2tRow>, DataError> {
    let file: SquadFile = serde_json::from_slice(bytes).map_err(|e| DataError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!("not SQuAD v1.1 JSON: {e}"),
    })?;
    let mut rows = Vec::new();
    for article in file.data {
        for paragraph in article.paragraphs {
            for qa in paragraph.qas {
                let mut fields = BTreeMap::new();
                fields.insert("context".to_string(), paragraph.context.clone());
                fields.insert("question".to_string(), qa.question);
                let answers: Vec<String> = qa.answers.into_iter().map(|a| a.text).collect();
                rows.push(T2tRow {
                    id: rows.len(),
                    line: 0,
                    fields,
                    gold: (!answers.is_empty()).then_some(T2tGold::Answers(answers)),
                    group: None,
                });
            }
        }
    }
    Ok(rows)
}

/// Segments of a plain-text file (one per line) or of a WMT `.sgm` file (`<seg id="…">…</seg>`
/// lines, as sacrebleu extracts them: the text between the tags, whitespace-trimmed).
pub fn segments(path: &Path, bytes: &[u8]) -> Result<Vec<(usize, String)>, DataError> {
    let all = lines(path, bytes)?;
    let sgm = path.extension().is_some_and(|e| e == "sgm");
    if !sgm {
        return Ok(all.into_iter().map(|(n, l)| (n, l.to_string())).collect());
    }
    let mut out = Vec::new();
    for (line, text) in all {
        let trimmed = text.trim_start();
        if !trimmed.starts_with("<seg ") && !trimmed.starts_with("<seg>") {
            continue;
        }
        let open = trimmed.find('>').map(|i| i + 1);
        let close = trimmed.rfind("</seg>");
        match (open, close) {
            (Some(o), Some(c)) if o <= c => out.push((line, trimmed[o..c].trim().to_string())),
            _ => {
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    line,
                    message: "a `<seg` line without its closing `</seg>`".into(),
                })
            }
        }
    }
    Ok(out)
}

fn read_parallel(
    source_path: &Path,
    source: &[u8],
    target_path: &Path,
    target: &[u8],
) -> Result<Vec<T2tRow>, DataError> {
    let sources = segments(source_path, source)?;
    let targets = segments(target_path, target)?;
    if sources.len() != targets.len() {
        return Err(DataError::LabelCountMismatch {
            labels: target_path.to_path_buf(),
            texts: source_path.to_path_buf(),
            found: targets.len(),
            expected: sources.len(),
        });
    }
    Ok(sources
        .into_iter()
        .zip(targets)
        .enumerate()
        .map(|(id, ((line, s), (_, t)))| {
            let mut fields = BTreeMap::new();
            fields.insert("source".to_string(), s);
            T2tRow {
                id,
                line,
                fields,
                gold: Some(T2tGold::Text(t)),
                group: None,
            }
        })
        .collect())
}

// --- preprocessors ---------------------------------------------------------------------------

/// T5's preprocessor for `task` applied to `row`: (line, message) on failure.
pub fn preprocess(task: &T2tTaskSpec, row: T2tRow) -> Result<T2tExample, (usize, String)> {
    let field = |name: &str| {
        row.fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| (row.line, format!("no field `{name}`")))
    };
    let unk = || "<unk>".to_string();
    let mut padded_answers = Vec::new();
    let (input, target) = match &task.preprocess {
        Preprocess::Glue {
            benchmark,
            fields,
            strip_html,
        } => {
            let mut parts = vec![benchmark.clone()];
            for name in fields {
                parts.push(format!("{name}:"));
                parts.push(field(name)?.to_string());
            }
            let mut input = parts.join(" ");
            if *strip_html {
                input = input
                    .replace("<br>", " ")
                    .replace("<b>", "")
                    .replace("</b>", "");
            }
            let target = match &row.gold {
                Some(T2tGold::Class(c)) => task.labels.get(*c).cloned().unwrap_or_else(unk),
                _ => unk(),
            };
            (input, target)
        }
        Preprocess::Stsb => {
            let input = format!(
                "stsb sentence1: {} sentence2: {}",
                field("sentence1")?,
                field("sentence2")?
            );
            let target = match &row.gold {
                Some(T2tGold::Score(s)) => stsb_target(*s),
                _ => unk(),
            };
            (input, target)
        }
        Preprocess::Squad => {
            let q = pad_punctuation(field("question")?);
            let c = pad_punctuation(field("context")?);
            let input = collapse_whitespace(&format!("question: {q} context: {c}"));
            if let Some(T2tGold::Answers(a)) = &row.gold {
                padded_answers = a.iter().map(|a| pad_punctuation(a)).collect();
            }
            let target = padded_answers.first().cloned().unwrap_or_default();
            (input, target)
        }
        Preprocess::Summarize => (format!("summarize: {}", field("source")?), gold_text(&row)),
        Preprocess::Translate { source, target } => (
            format!("translate {source} to {target}: {}", field("source")?),
            gold_text(&row),
        ),
    };
    Ok(T2tExample {
        id: row.id,
        input,
        target,
        gold: row.gold,
        group: row.group,
        padded_answers,
    })
}

fn gold_text(row: &T2tRow) -> String {
    match &row.gold {
        Some(T2tGold::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

/// `tf.as_string(tf.round(label * 5) / 5, precision=1)` on a float32 label: round half to even,
/// in float32, printed with one decimal.
pub fn stsb_target(label: f32) -> String {
    let rounded = (label * 5.0).round_ties_even() / 5.0;
    format!("{:.1}", f64::from(rounded))
}

/// RE2's `\s`: `[\t\n\f\r ]` (TensorFlow's `regex_replace`), not Unicode whitespace.
fn is_re2_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0C' | '\r' | ' ')
}

/// `regex_replace(text, r'\s+', ' ')`.
pub fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if is_re2_space(c) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

/// T5's `_pad_punctuation`: a space either side of every `[[:punct:]]` (ASCII punctuation),
/// then runs of whitespace collapsed to one space (leading and trailing spaces stay).
pub fn pad_punctuation(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    collapse_whitespace(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stsb_targets_round_half_to_even_in_float32() {
        assert_eq!(stsb_target(3.8), "3.8");
        assert_eq!(stsb_target(0.1), "0.0"); // 0.5 rounds to 0
        assert_eq!(stsb_target(0.3), "0.4"); // 1.5 rounds to 2
        assert_eq!(stsb_target(5.0), "5.0");
        assert_eq!(stsb_target(2.35), "2.4");
    }

    #[test]
    fn squad_punctuation_padding() {
        assert_eq!(pad_punctuation("U.S. (1990)"), "U . S . ( 1990 ) ");
        assert_eq!(pad_punctuation("a\u{a0}b  c"), "a\u{a0}b c");
        assert_eq!(pad_punctuation("¿Qué?"), "¿Qué ? ");
    }

    #[test]
    fn embedded_t5_tasks_parse() {
        let tasks = embedded().unwrap();
        for name in ["rte", "superglue_rte", "multirc", "squad_v1", "stsb"] {
            assert!(tasks.iter().any(|t| t.name == name), "{name}");
        }
    }

    #[test]
    fn sgm_segments() {
        let text = "<srcset setid=\"newstest2014\" srclang=\"any\">\n<doc sysid=\"ref\" docid=\"1\" genre=\"news\" origlang=\"en\">\n<seg id=\"1\"> Gutach: Noch mehr Sicherheit </seg>\n<seg id=\"2\">Zweite</seg>\n</doc>\n</srcset>\n";
        let segs = segments(Path::new("x.sgm"), text.as_bytes()).unwrap();
        assert_eq!(
            segs,
            vec![
                (3, "Gutach: Noch mehr Sicherheit".to_string()),
                (4, "Zweite".to_string())
            ]
        );
    }
}
