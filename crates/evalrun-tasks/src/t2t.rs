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
//! kind = "glue"                 # glue | stsb | squad | summarize | translate | wsc_simple | record
//! benchmark = "mrpc"            # the input prefix
//! fields = ["sentence1", "sentence2"]   # T5's order: sorted keys unless the task names one
//!
//! [splits.dev]
//! format = "tsv"                # tsv | jsonl | multirc | squad | parallel | wsc | record
//! path = "glue/MRPC/senteval_tokenized/dev.tsv"
//! header = true
//! columns = { sentence1 = 3, sentence2 = 4 }
//! label = "0"                   # tsv: column number; jsonl: key
//! label_values = ["0", "1"]     # how the file spells each label (default: `labels`)
//! index = 0                     # test files: the column echoed in the submission file
//!
//! [submission]                  # `--split test --submission-dir DIR` writes DIR/<file>
//! file = "MRPC.tsv"             # .tsv: GLUE "index<TAB>prediction"; .jsonl: SuperGLUE {"idx", "label"}
//! labels = ["0", "1"]           # how the server spells each class (default: `labels`)
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
    /// The classes the data's gold labels name, when they differ from the model's target
    /// strings (the GLUE diagnostic: an MNLI model's three answers, binary gold labels).
    #[serde(default)]
    pub gold_labels: Option<Vec<String>>,
    /// Target string → gold label, for `gold_labels` (`neutral` → `not_entailment`).
    #[serde(default)]
    pub collapse: BTreeMap<String, String>,
    /// The test server's file for `--split test --submission-dir`.
    #[serde(default)]
    pub submission: Option<SubmissionSpec>,
}

/// A test-server file: GLUE's `index<TAB>prediction` TSV or SuperGLUE's `{"idx", "label"}`
/// JSONL, chosen by the file's extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionSpec {
    pub file: String,
    /// The server's spelling of each class, in `labels` order (strings or integers).
    #[serde(default)]
    pub labels: Option<Vec<serde_json::Value>>,
}

impl T2tTaskSpec {
    /// The classes gold labels are counted in (`gold_labels`, else `labels`).
    pub fn gold_classes(&self) -> &[String] {
        self.gold_labels.as_deref().unwrap_or(&self.labels)
    }

    /// The gold class a predicted target class counts as (through `collapse`).
    pub fn scored_class(&self, predicted: usize) -> Option<usize> {
        let name = self.labels.get(predicted)?;
        let name = self.collapse.get(name).unwrap_or(name);
        self.gold_classes().iter().position(|g| g == name)
    }
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
    /// `preprocessors.wsc_simple` on TFDS `super_glue/wsc.fixed`: `"wsc: <text>"` with the
    /// pronoun marked `*he*`; the target is the candidate referent, scored by
    /// `postprocessors.wsc_simple` against the label.
    #[serde(rename = "wsc_simple")]
    WscSimple,
    /// `preprocessors.record`: `"record query: <query> entities: <e1>, <e2> passage: <passage>"`
    /// (`@highlight` lines joined); scored by max SQuAD EM/F1 over the answers.
    Record,
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
        /// The index column of a test file, echoed in the submission file.
        #[serde(default)]
        index: Option<usize>,
    },
    Jsonl {
        path: String,
        fields: Vec<String>,
        /// Feature name → JSON key where they differ (AX-b's `sentence1` is T5's `premise`).
        #[serde(default)]
        keys: BTreeMap<String, String>,
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
    /// SuperGLUE WSC JSONL (`text`, `target.span{1,2}_{index,text}`, `label`), with TFDS's
    /// `wsc.fixed` span repairs.
    Wsc { path: String },
    /// SuperGLUE ReCoRD JSONL: one example per query (passage entities by character span).
    Record { path: String },
}

impl T2tSplit {
    pub fn path(&self) -> &str {
        match self {
            T2tSplit::Tsv { path, .. }
            | T2tSplit::Jsonl { path, .. }
            | T2tSplit::Multirc { path }
            | T2tSplit::Squad { path }
            | T2tSplit::Wsc { path }
            | T2tSplit::Record { path } => path,
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
    /// The file's own index (TSV index column, JSONL `idx`; MultiRC and ReCoRD a nested
    /// object), echoed in submission files.
    pub idx: Option<serde_json::Value>,
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
    /// The file's own index (see [`T2tRow::idx`]).
    pub idx: Option<serde_json::Value>,
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
    "gender_parity",
];

pub fn parse(file: &str, text: &str) -> Result<T2tTaskSpec, TaskError> {
    let invalid = |message: String| TaskError::Invalid {
        file: file.to_string(),
        message,
    };
    let spec: T2tTaskSpec = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    crate::error::check_metric_names(&spec.metrics, &spec.table_metric, KNOWN_METRICS)
        .map_err(invalid)?;
    if let Some(values) = spec.submission.as_ref().and_then(|s| s.labels.as_ref()) {
        if values.len() != spec.labels.len() {
            return Err(invalid(format!(
                "[submission] labels has {} values but the task has {} labels",
                values.len(),
                spec.labels.len()
            )));
        }
    }
    for (from, to) in &spec.collapse {
        if !spec.labels.contains(from) || !spec.gold_classes().contains(to) {
            return Err(invalid(format!(
                "collapse `{from}` → `{to}` must map one of `labels` to one of `gold_labels`"
            )));
        }
    }
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
            index,
            ..
        } => read_tsv(
            &path,
            &bytes,
            TsvLayout {
                header: *header,
                columns,
                label: *label,
                label_values: label_values.as_deref(),
                index: *index,
            },
            task,
        )?,
        T2tSplit::Jsonl {
            fields,
            keys,
            label,
            label_values,
            ..
        } => read_jsonl(
            &path,
            &bytes,
            fields,
            keys,
            label.as_deref(),
            label_values.as_deref(),
            task,
        )?,
        T2tSplit::Wsc { .. } => read_wsc(&path, &bytes)?,
        T2tSplit::Record { .. } => read_record(&path, &bytes)?,
        T2tSplit::Multirc { .. } => read_multirc(&path, &bytes)?,
        T2tSplit::Squad { .. } => read_squad(&path, &bytes)?,
        T2tSplit::Parallel { target, .. } => {
            let (target_path, target_bytes) = read(target)?;
            sha256 = format!("{sha256}+{}", hex_sha256(&target_bytes));
            read_parallel(&path, &bytes, &target_path, &target_bytes)?
        }
    };
    let mut rows = rows;
    if task.metrics.iter().any(|m| m == "gender_parity") {
        pair_rows(&path, &mut rows)?;
    }
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

/// AX-g's minimal pairs: rows `2k` and `2k + 1` are the two gender variants of one premise
/// and share their hypothesis (jiant's `GenderParity` asserts the same). Each pair becomes one
/// group, so bootstrap draws and shards keep pairs whole.
fn pair_rows(path: &Path, rows: &mut [T2tRow]) -> Result<(), DataError> {
    if rows.len() % 2 == 1 {
        let line = rows.last().map_or(0, |r| r.line);
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            line,
            message: format!(
                "gender parity needs male/female pairs on consecutive rows, but the file has an odd number of rows ({})",
                rows.len()
            ),
        });
    }
    for (k, pair) in rows.chunks_exact_mut(2).enumerate() {
        if pair[0].fields.get("hypothesis") != pair[1].fields.get("hypothesis") {
            return Err(DataError::Malformed {
                path: path.to_path_buf(),
                line: pair[1].line,
                message: format!(
                    "field `hypothesis` differs from the previous row's: rows {} and {} must be one minimal pair",
                    2 * k,
                    2 * k + 1
                ),
            });
        }
        for row in pair.iter_mut() {
            row.group = Some(k as u64);
        }
    }
    Ok(())
}

fn class_of(value: &str, label_values: Option<&[String]>, task: &T2tTaskSpec) -> Option<usize> {
    let spellings = label_values.unwrap_or(&task.labels);
    spellings.iter().position(|v| v == value)
}

/// Where a TSV split keeps its fields.
struct TsvLayout<'a> {
    header: bool,
    columns: &'a BTreeMap<String, usize>,
    label: Option<usize>,
    label_values: Option<&'a [String]>,
    index: Option<usize>,
}

fn read_tsv(
    path: &Path,
    bytes: &[u8],
    layout: TsvLayout<'_>,
    task: &T2tTaskSpec,
) -> Result<Vec<T2tRow>, DataError> {
    let TsvLayout {
        header,
        columns,
        label,
        label_values,
        index,
    } = layout;
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
        let idx = match index {
            Some(column) => Some(serde_json::Value::from(cell("index", column)?)),
            None => None,
        };
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
            idx,
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
    keys: &BTreeMap<String, String>,
    label: Option<&str>,
    label_values: Option<&[String]>,
    task: &T2tTaskSpec,
) -> Result<Vec<T2tRow>, DataError> {
    let boolean = task.labels == ["False", "True"];
    let mut rows = Vec::new();
    for (line, value) in json_lines(path, bytes)? {
        let mut map = BTreeMap::new();
        for field in fields {
            let key = keys.get(field).unwrap_or(field);
            let text =
                value
                    .get(key)
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| DataError::Malformed {
                        path: path.to_path_buf(),
                        line,
                        message: format!("field `{key}` is missing or not a string"),
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
            idx: value.get("idx").cloned(),
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
        let passage_idx = value.get("idx").cloned();
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
                    idx: Some(serde_json::json!({
                        "paragraph": passage_idx,
                        "question": group,
                        "answer": a.get("idx"),
                    })),
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
                    idx: None,
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
                idx: None,
            }
        })
        .collect())
}

/// Python's `str.isspace()` (what `str.split()` splits on): Unicode whitespace and U+001C–U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Spans TFDS's `_fix_wst` leaves alone: "there is no way to correct these examples since the
/// subjects have intervening text".
const WSC_UNFIXABLE: [&str; 2] = ["Kamenev and Zinoviev", "Kamenev, Zinoviev, and Stalin"];

/// TFDS `super_glue/wsc.fixed` (`_fix_wst`) for one span: a span text that is not a substring
/// of the text gets the case of the text's word at its index, loses trailing dots and has
/// newlines made spaces. Returns the span text and, for the one "theyscold" row, the pronoun
/// index TFDS sets (it also meant to fix the text, but its `replace` result is discarded).
fn fix_wsc_span(text: &str, span: &str, index: i64) -> Result<(String, Option<i64>), String> {
    if text.contains(span) || WSC_UNFIXABLE.contains(&span) {
        return Ok((span.to_string(), None));
    }
    let new_index = span.contains("theyscold").then_some(10);
    let words: Vec<&str> = text
        .split(is_python_space)
        .filter(|w| !w.is_empty())
        .collect();
    let word = usize::try_from(index)
        .ok()
        .and_then(|i| words.get(i))
        .ok_or_else(|| {
            format!(
                "span index {index} is past the text's {} words",
                words.len()
            )
        })?;
    let mut chars = span.chars();
    let first = chars.next().ok_or("an empty span text")?;
    let lower = word.chars().next().is_some_and(char::is_lowercase);
    let mut fixed: String = if lower {
        first.to_lowercase().collect()
    } else {
        first.to_uppercase().collect()
    };
    fixed.push_str(chars.as_str());
    let fixed = fixed.trim_end_matches('.').replace('\n', " ");
    if !text.contains(&fixed) {
        return Err(format!(
            "span `{span}` is not in the text, even after TFDS's wsc.fixed repair (`{fixed}`)"
        ));
    }
    Ok((fixed, new_index))
}

/// SuperGLUE WSC JSONL as TFDS `super_glue/wsc.fixed` gives it: `text`, the spans from
/// `target`, repaired by [`fix_wsc_span`], `idx` and the boolean label.
fn read_wsc(path: &Path, bytes: &[u8]) -> Result<Vec<T2tRow>, DataError> {
    let mut rows = Vec::new();
    for (line, value) in json_lines(path, bytes)? {
        let bad = |message: String| DataError::Malformed {
            path: path.to_path_buf(),
            line,
            message,
        };
        let text = value
            .get("text")
            .and_then(|t| t.as_str())
            .ok_or_else(|| bad("field `text` is missing or not a string".into()))?;
        let target = value
            .get("target")
            .ok_or_else(|| bad("field `target` (the two spans) is missing".into()))?;
        let span_text = |k: &str| {
            target
                .get(k)
                .and_then(|t| t.as_str())
                .ok_or_else(|| bad(format!("field `target.{k}` is missing or not a string")))
        };
        let span_index = |k: &str| {
            target
                .get(k)
                .and_then(|t| t.as_i64())
                .ok_or_else(|| bad(format!("field `target.{k}` is missing or not an integer")))
        };
        let (mut index2, index1) = (span_index("span2_index")?, span_index("span1_index")?);
        // In TFDS's order: span1's repair may set span2_index, which span2's repair then reads.
        let (span1, fix1) = fix_wsc_span(text, span_text("span1_text")?, index1)
            .map_err(|m| bad(format!("`target.span1_text`: {m}")))?;
        if let Some(i) = fix1 {
            index2 = i;
        }
        let (span2, fix2) = fix_wsc_span(text, span_text("span2_text")?, index2)
            .map_err(|m| bad(format!("`target.span2_text`: {m}")))?;
        if let Some(i) = fix2 {
            index2 = i;
        }
        let gold = match value.get("label") {
            None | Some(serde_json::Value::Null) => None,
            Some(raw) => Some(T2tGold::Class(
                label_text(raw)
                    .as_deref()
                    .and_then(boolean_class)
                    .ok_or_else(|| bad(format!("field `label` {raw} is not a boolean")))?,
            )),
        };
        let mut fields = BTreeMap::new();
        fields.insert("text".to_string(), text.to_string());
        fields.insert("span1_text".to_string(), span1);
        fields.insert("span2_text".to_string(), span2);
        fields.insert("span2_index".to_string(), index2.to_string());
        rows.push(T2tRow {
            id: rows.len(),
            line,
            fields,
            gold,
            group: None,
            idx: value.get("idx").cloned(),
        });
    }
    Ok(rows)
}

/// `text[start:end + 1]` in Python: code-point offsets, end inclusive, clamped like a slice.
fn char_slice(text: &str, start: i64, end_inclusive: i64) -> String {
    let n = text.chars().count() as i64;
    let clamp = |i: i64| if i < 0 { (n + i).max(0) } else { i.min(n) };
    let (a, b) = (clamp(start), clamp(end_inclusive + 1));
    if a >= b {
        return String::new();
    }
    text.chars()
        .skip(a as usize)
        .take((b - a) as usize)
        .collect()
}

/// SuperGLUE ReCoRD JSONL as TFDS `super_glue/record` gives it: one row per query, the
/// passage's entities (`text[start:end+1]`, unique, sorted) and the query's answers (unique,
/// sorted); `idx` = `{passage, query}`.
fn read_record(path: &Path, bytes: &[u8]) -> Result<Vec<T2tRow>, DataError> {
    let mut rows = Vec::new();
    for (line, value) in json_lines(path, bytes)? {
        let bad = |message: String| DataError::Malformed {
            path: path.to_path_buf(),
            line,
            message,
        };
        let passage = value
            .get("passage")
            .ok_or_else(|| bad("field `passage` is missing".into()))?;
        let text = passage
            .get("text")
            .and_then(|t| t.as_str())
            .ok_or_else(|| bad("field `passage.text` is missing or not a string".into()))?;
        let spans = passage
            .get("entities")
            .and_then(|e| e.as_array())
            .ok_or_else(|| bad("field `passage.entities` is missing or not a list".into()))?;
        let mut entities = std::collections::BTreeSet::new();
        for span in spans {
            let at = |k: &str| {
                span.get(k).and_then(|v| v.as_i64()).ok_or_else(|| {
                    bad(format!(
                        "an entity without an integer `{k}` in `passage.entities`"
                    ))
                })
            };
            entities.insert(char_slice(text, at("start")?, at("end")?));
        }
        let entities: Vec<String> = entities.into_iter().collect();
        let qas = value
            .get("qas")
            .and_then(|q| q.as_array())
            .ok_or_else(|| bad("field `qas` is missing or not a list".into()))?;
        for qa in qas {
            let query = qa
                .get("query")
                .and_then(|q| q.as_str())
                .ok_or_else(|| bad("a query without `query` text in `qas`".into()))?;
            let answers: Option<Vec<String>> = match qa.get("answers") {
                None | Some(serde_json::Value::Null) => None,
                Some(list) => {
                    let list = list
                        .as_array()
                        .ok_or_else(|| bad("`qas[].answers` is not a list".into()))?;
                    let mut set = std::collections::BTreeSet::new();
                    for a in list {
                        set.insert(
                            a.get("text")
                                .and_then(|t| t.as_str())
                                .ok_or_else(|| bad("an answer without `text`".into()))?
                                .to_string(),
                        );
                    }
                    Some(set.into_iter().collect())
                }
            };
            let mut fields = BTreeMap::new();
            fields.insert("passage".to_string(), text.to_string());
            fields.insert("query".to_string(), query.to_string());
            fields.insert("entities".to_string(), entities.join(", "));
            rows.push(T2tRow {
                id: rows.len(),
                line,
                fields,
                gold: answers.filter(|a| !a.is_empty()).map(T2tGold::Answers),
                group: None,
                idx: Some(
                    serde_json::json!({ "passage": value.get("idx"), "query": qa.get("idx") }),
                ),
            });
        }
    }
    Ok(rows)
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
                Some(T2tGold::Class(c)) => task.gold_classes().get(*c).cloned().unwrap_or_else(unk),
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
        Preprocess::WscSimple => {
            let span2 = field("span2_text")?;
            let index: i64 = field("span2_index")?.parse().unwrap_or(-1);
            let blanked = wsc_inputs(field("text")?, index, span2).map_err(|m| (row.line, m))?;
            let marked = blanked.replace(" X ", &format!(" *{span2}* "));
            (format!("wsc: {marked}"), field("span1_text")?.to_string())
        }
        Preprocess::Record => {
            let input = format!(
                "record query: {} entities: {} passage: {}",
                field("query")?,
                field("entities")?,
                record_passage(field("passage")?)
            );
            let target = match &row.gold {
                Some(T2tGold::Answers(a)) => a.first().cloned().unwrap_or_else(unk),
                _ => unk(),
            };
            (input, target)
        }
    };
    Ok(T2tExample {
        id: row.id,
        input,
        target,
        gold: row.gold,
        group: row.group,
        padded_answers,
        idx: row.idx,
    })
}

/// `_wsc_inputs`: the text split on single spaces with the pronoun word replaced by `X`, after
/// T5's checks (index inside the text, the word equal to the pronoun), and its two hard-coded
/// texts whose index points at the wrong word.
fn wsc_inputs(text: &str, index: i64, pronoun: &str) -> Result<String, String> {
    const SPECIAL: [(&str, &str); 2] = [
        (
            "The boy continued to whip the pony , and eventually the pony threw him over. John laughed out quite loud. \"Good for him,\" he said. ",
            "The boy continued to whip the pony , and eventually the pony threw him over. John laughed out quite loud. \"Good for X ,\" he said.",
        ),
        (
            "When they had eventually calmed down a bit , and had gotten home, Mr. Farley put the magic pebble in an iron safe . Some day they might want to use it , but really for now, what more could they wish for?",
            "When they had eventually calmed down a bit , and had gotten home, Mr. Farley put the magic pebble in an iron safe . Some day they might want to use X , but really for now, what more could they wish for?",
        ),
    ];
    if let Some((_, fixed)) = SPECIAL.iter().find(|(t, _)| *t == text) {
        return Ok((*fixed).to_string());
    }
    let words: Vec<&str> = text.split(' ').collect();
    let i = usize::try_from(index)
        .ok()
        .filter(|&i| i > 0 && i < words.len())
        .ok_or_else(|| {
            format!(
                "span2_index {index} must lie inside the text's {} words and not be the first",
                words.len()
            )
        })?;
    if words[i] != pronoun {
        return Err(format!(
            "word {i} of the text is `{}`, not the pronoun `{pronoun}`",
            words[i]
        ));
    }
    Ok(format!(
        "{} X {}",
        words[..i].join(" "),
        words[i + 1..].join(" ")
    ))
}

/// T5's ReCoRD passage: `(\.|\?|\!|\"|\')\n@highlight\n` → `\1 `, then `\n@highlight\n` →
/// `. ` (RE2 global replacements, leftmost non-overlapping matches).
pub fn record_passage(passage: &str) -> String {
    const MARK: &str = "\n@highlight\n";
    let mut out = String::with_capacity(passage.len());
    let (mut last, mut from) = (0, 0);
    while let Some(offset) = passage[from..].find(MARK) {
        let at = from + offset;
        let punct = at > last
            && matches!(
                passage.as_bytes()[at - 1],
                b'.' | b'?' | b'!' | b'"' | b'\''
            );
        if punct {
            out.push_str(&passage[last..at]);
            out.push(' ');
            last = at + MARK.len();
            from = last;
        } else {
            from = at + 1;
        }
    }
    out.push_str(&passage[last..]);
    out.replace(MARK, ". ")
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
