//! The task file format.
//!
//! ```toml
//! name = "mrpc"
//! version = 1
//! suite = "glue"
//! description = "Microsoft Research Paraphrase Corpus"
//! protocol = "GLUE dev; F1 of class `equivalent` and accuracy (HF evaluate glue, run_glue)"
//! metrics = ["f1", "accuracy"]
//! table_metric = "f1"
//! default_split = "dev"
//! submission_file = "MRPC.tsv"
//!
//! [labels]
//! kind = "classification"
//! names = ["not_equivalent", "equivalent"]   # the HF `glue` index order
//! values = ["0", "1"]                        # how the file writes them, same order
//! positive = "equivalent"
//!
//! [splits.dev]
//! path = "glue/MRPC/dev.tsv"                 # relative to the data directory
//! header = true
//! text_a = 3                                 # 0-based columns
//! text_b = 4
//! label = 0
//! ```
//!
//! Bump `version` whenever inputs, fields or scoring change: records carry it.

use std::collections::BTreeMap;

use evalrun_core::Metric;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// The task file's kind (`head`, `lm`, `text_to_text`): which request section follows.
    #[serde(default)]
    pub kind: Option<crate::catalog::TaskKind>,
    /// Result key, e.g. `mnli_matched`.
    pub name: String,
    pub version: u32,
    /// The suite alias that runs it with `--task all` (`glue`, `sts`).
    pub suite: String,
    /// The name `--task` also accepts for this task and its siblings (`mnli` runs
    /// `mnli_matched` and `mnli_mismatched`).
    #[serde(default)]
    pub group: Option<String>,
    /// The model task substituted for `{task}` in `--model` when it differs from `name`
    /// (`mnli` for both MNLI halves and for `ax`, which is scored with an MNLI model).
    #[serde(default)]
    pub model_task: Option<String>,
    pub description: String,
    /// Which published protocol the task follows, in words.
    pub protocol: String,
    pub labels: LabelSpec,
    pub metrics: Vec<Metric>,
    /// The metric shown in single-number tables (BERT's Table 1 convention).
    pub table_metric: Metric,
    pub default_split: String,
    pub splits: BTreeMap<String, SplitSpec>,
    /// GLUE test-server file name written by `--split test`.
    #[serde(default)]
    pub submission_file: Option<String>,
}

impl TaskSpec {
    /// The name substituted for `{task}` in a model path.
    pub fn model_task(&self) -> &str {
        self.model_task.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LabelSpec {
    Classification {
        /// Label names in the HF `glue` dataset's index order.
        names: Vec<String>,
        /// The strings the data file uses for each name, same order (defaults to `names`).
        #[serde(default)]
        values: Option<Vec<String>>,
        /// The positive class for F1.
        #[serde(default)]
        positive: Option<String>,
        /// When the scoring model predicts a different label set (AX is scored with an MNLI
        /// model): the head's names, and how each collapses onto `names`.
        #[serde(default)]
        head: Option<HeadSpec>,
    },
    Regression {},
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    pub names: Vec<String>,
    pub collapse: BTreeMap<String, String>,
}

impl LabelSpec {
    pub fn names(&self) -> &[String] {
        match self {
            LabelSpec::Classification { names, .. } => names,
            LabelSpec::Regression {} => &[],
        }
    }

    /// The label names the model's head must produce, in their canonical index order.
    pub fn head_names(&self) -> &[String] {
        match self {
            LabelSpec::Classification {
                head: Some(head), ..
            } => &head.names,
            other => other.names(),
        }
    }

    /// Maps a head class index (canonical order of [`Self::head_names`]) to a task class index.
    pub fn collapse(&self, head_class: usize) -> usize {
        match self {
            LabelSpec::Classification {
                names,
                head: Some(head),
                ..
            } => {
                let head_name = &head.names[head_class];
                let target = head.collapse.get(head_name).unwrap_or(head_name);
                names
                    .iter()
                    .position(|n| n == target)
                    .expect("validated at load time")
            }
            _ => head_class,
        }
    }

    pub fn positive_index(&self) -> Option<usize> {
        match self {
            LabelSpec::Classification {
                names,
                positive: Some(p),
                ..
            } => names.iter().position(|n| n == p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// Path relative to the data directory.
    pub path: String,
    /// Whether the first line is a header to skip.
    pub header: bool,
    pub text_a: usize,
    #[serde(default)]
    pub text_b: Option<usize>,
    /// Label column; absent for unlabelled (test) splits.
    #[serde(default)]
    pub label: Option<usize>,
    /// Index column echoed in submission files; the row number when absent.
    #[serde(default)]
    pub index: Option<usize>,
    /// Labels that live in a separate JSONL file, one object per example in the same order
    /// (GLUE's diagnostic set gets them from SuperGLUE's AX-b).
    #[serde(default)]
    pub labels_from: Option<JsonlLabels>,
    /// The same split on the Hugging Face Hub (Parquet), used when no `--data-dir` is given.
    #[serde(default)]
    pub hub: Option<crate::parquet::HubSplit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlLabels {
    pub path: String,
    pub field: String,
}

impl SplitSpec {
    pub fn has_labels(&self) -> bool {
        self.label.is_some() || self.labels_from.is_some()
    }
}
