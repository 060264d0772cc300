//! The result record (`--output FILE.json`) and predictions lines (`--predictions FILE.jsonl`).

use std::collections::BTreeMap;

use evalrun_core::average::{
    bert_table_average, glue_group_average, superglue_average, Average, TaskMetrics,
};
use evalrun_core::bootstrap::{BootstrapSpec, Interval};
use serde::{Deserialize, Serialize};

/// The values a metric can take.
fn metric_range(metric: evalrun_core::Metric) -> (f64, f64) {
    use evalrun_core::Metric::*;
    match metric {
        Mcc | Pearson | Spearman => (-1.0, 1.0),
        WordPerplexity | BytePerplexity | TokenPerplexity | TokenPerplexityExact | Perplexity => {
            (1.0, f64::INFINITY)
        }
        BitsPerByte | BitsPerCharacter => (0.0, f64::INFINITY),
        _ => (0.0, 1.0),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// evalrun's version and the git commit it was built from.
    pub evalrun: BuildInfo,
    pub command: String,
    /// How the run was configured (absent in records written before the one engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    pub runtime: RuntimeProvenance,
    /// Per-task results, keyed by task name.
    pub results: BTreeMap<String, TaskResult>,
    /// Tasks that were asked for but not run, with the reason (e.g. data not present).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub averages: BTreeMap<String, AverageRecord>,
    pub wall_seconds: f64,
    /// How the request cache (`--cache`) answered this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheUse>,
    /// A shard run (`--shard I/N`): what `evalrun merge` needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// The predictions file written with this record (`--predictions`): its sha256 pairs the
    /// two, so a record is never read beside another run's predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predictions: Option<PredictionsDigest>,
}

/// The sha256 and line count of the predictions file written together with a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionsDigest {
    pub sha256: String,
    pub lines: usize,
}

/// Requests answered from the cache and by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheUse {
    /// The SQLite file.
    pub path: String,
    /// `read-write`, `read` or `refresh`.
    pub mode: String,
    /// Requests answered from the cache (no model call).
    pub hits: usize,
    /// Requests the model answered.
    pub computed: usize,
}

/// One shard of a sharded run: which units it kept, the settings it ran with and every
/// response it received, so that `evalrun merge` scores all shards' units together, exactly
/// as one unsharded run would, without the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// 0-based: this shard kept the units whose position `% count == index`.
    pub index: usize,
    pub count: usize,
    /// The engine's settings, as the engine wrote them.
    pub settings: serde_json::Value,
    /// Per model directory: what the backend said about itself and its responses by key.
    pub models: BTreeMap<String, ShardModel>,
    /// Per task.
    pub tasks: BTreeMap<String, ShardTask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardModel {
    pub info: evalrun_core::request::ModelInfo,
    pub fingerprint: BTreeMap<String, String>,
    /// Request key (sha256 of fingerprint and request) → response.
    pub responses: BTreeMap<String, evalrun_core::request::Response>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardTask {
    /// The key of `models` this task ran on.
    pub model: String,
    /// How `--model` resolved for the task (`local` or `org/name@commit …`).
    pub origin: String,
    /// Label names from a preset, when it gave them.
    pub labels: Option<Vec<String>>,
    /// Evaluation units of the task (after `--limit`), before sharding.
    pub units: usize,
    /// Units this shard kept.
    pub kept: usize,
}

/// The run's configuration: everything needed to run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// UTC, RFC 3339 (`2026-12-02T03:04:05Z`).
    pub started: String,
    pub finished: String,
    /// The command line as given (arguments after the program name).
    pub command_line: Vec<String>,
    /// `--model` as typed.
    pub model: String,
    /// What it resolved to, per model task (`{task}`; `` for one model): a local path, or
    /// `org/name@commit (preset …)`.
    pub model_resolved: BTreeMap<String, String>,
    /// The kind of model and so of every task: `classifier`, `embedding model`, `causal LM`, …
    pub model_kind: String,
    pub tasks: Vec<String>,
    /// `--data-dir`, or `null` for Hub / pinned-URL sources.
    pub data_dir: Option<String>,
    pub split: Option<String>,
    /// `--limit`: the first N evaluation units of each task; scores are then not comparable to
    /// published ones.
    pub limit: Option<usize>,
    pub batch_size: usize,
    /// `--max-length` as given (each task's `model.max_length` is what was used).
    pub max_length: Option<usize>,
    pub bootstrap_resamples: usize,
    pub seed: u64,
    /// Decoding and window settings that were given (text-to-text, causal LM).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildInfo {
    pub version: String,
    pub git_commit: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeProvenance {
    pub ort_version: String,
    pub ort_library: String,
    pub execution_provider: String,
    pub device: String,
    pub threads: usize,
    pub batch_size: usize,
    /// ONNX Runtime session configuration entries (`EVALRUN_ORT_CONFIG`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ort_config: BTreeMap<String, String>,
    /// The prefix of ONNX Runtime's per-node profile files (`EVALRUN_ORT_PROFILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ort_profile: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskResult {
    /// Raw metric values (fractions/correlations); `null` where undefined (NaN).
    pub metrics: BTreeMap<String, Option<f64>>,
    pub n: usize,
    pub split: String,
    pub task_version: u32,
    pub protocol: String,
    pub table_metric: String,
    pub model: ModelProvenance,
    pub data: DataProvenance,
    pub wall_seconds: f64,
    /// Evaluation units (examples, documents) per second.
    pub examples_per_second: f64,
    /// Scored or generated tokens per second (LM and text-to-text tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_second: Option<f64>,
    /// Units in the data before `--limit` (`n` is what was evaluated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_original: Option<usize>,
    /// Per metric: whether a higher value is better (perplexities and bits: no).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub higher_is_better: BTreeMap<String, bool>,
    /// 95% bootstrap intervals of the metrics, resampling examples.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci: BTreeMap<String, Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapSpec>,
    /// For language-model scoring: the sums every normalisation is computed from
    /// (`loglikelihood` in nats, `tokens`, `words`, `bytes`, `characters`), so any other
    /// normalisation can be recomputed from the record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sums: BTreeMap<String, f64>,
    /// The window policy of rolling scoring, e.g. `lm-eval disjoint, max_length 1024`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelProvenance {
    pub path: String,
    pub sha256: String,
    pub tokenizer_sha256: String,
    /// `logits` (classification/regression head) or `embedding` (cosine similarity).
    pub scoring: String,
    pub max_length: usize,
    /// How head indices were mapped to task labels (`id2label names`, `glue index order`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_mapping: Option<String>,
    /// Where the model came from when not a local directory: `org/name@commit (preset …)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The load-time graph edits applied to any of the model's graphs (`--graph-edits`);
    /// empty when every graph was loaded as exported.
    #[serde(default)]
    pub edits: Vec<String>,
    /// Per graph and edit asked for: applied (how often), not applicable or refused (why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edit_report: Vec<evalrun_core::request::GraphEdit>,
    /// Every graph the model uses (a seq2seq model: encoder and decoders), with its sha256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graphs: Vec<GraphHash>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphHash {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataProvenance {
    pub path: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AverageRecord {
    pub value: f64,
    pub included: Vec<String>,
    pub missing: Vec<String>,
    pub definition: String,
}

impl AverageRecord {
    fn from(average: Average, definition: &str) -> Self {
        Self {
            value: average.value,
            included: average.included,
            missing: average.missing,
            definition: definition.to_string(),
        }
    }
}

pub const BERT_TABLE_DEFINITION: &str =
    "plain mean of BERT Table 1's nine numbers (MNLI-m, MNLI-mm, QQP F1, QNLI, SST-2, CoLA MCC, STS-B Spearman, MRPC F1, RTE), WNLI and AX excluded";
pub const SUPERGLUE_DEFINITION: &str = "SuperGLUE average (T5): mean over BoolQ, CB (macro-F1+acc)/2, COPA, MultiRC (F1a+EM)/2, ReCoRD (F1+EM)/2, RTE, WiC, WSC";

pub const GLUE_GROUP_DEFINITION: &str =
    "T5/GLUE convention: average inside each task (MRPC F1+acc, STS-B P+S, QQP F1+acc, MNLI m+mm), then over CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI";

impl RunRecord {
    /// Reads a record written by `--output`.
    pub fn read(path: &std::path::Path) -> Result<Self, crate::ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| crate::ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let record: Self =
            serde_json::from_str(&text).map_err(|e| crate::ReportError::BadRecord {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        record
            .validate()
            .map_err(|message| crate::ReportError::BadRecord {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(record)
    }

    /// What a record read back must hold: every metric evalrun knows within its range
    /// (fractions in [0, 1], correlations in [-1, 1], perplexities at least 1, bits at least
    /// 0), and a writer no newer than this evalrun. Names the field that is not.
    pub fn validate(&self) -> Result<(), String> {
        let version = |v: &str| -> Option<(u64, u64, u64)> {
            let mut parts = v.split(['.', '-', '+']).map(|p| p.parse::<u64>().ok());
            Some((parts.next()??, parts.next()??, parts.next()??))
        };
        let ours = env!("CARGO_PKG_VERSION");
        if let (Some(theirs), Some(mine)) = (version(&self.evalrun.version), version(ours)) {
            if theirs > mine {
                return Err(format!(
                    "`evalrun.version` is {}, newer than this evalrun ({ours}); read it with that version or newer",
                    self.evalrun.version
                ));
            }
        }
        for name in self.results.keys().chain(self.skipped.keys()) {
            if name.chars().any(char::is_control) {
                return Err(format!(
                    "task name {name:?} in `results` has control characters"
                ));
            }
        }
        for (task, result) in &self.results {
            for (name, value) in &result.metrics {
                let (Some(v), Some(metric)) = (value, evalrun_core::Metric::from_name(name)) else {
                    continue;
                };
                let (low, high) = metric_range(metric);
                // A hair of float rounding (a correlation of 1 + 2e-16) is not out of range.
                if !(v.is_finite() && *v >= low - 1e-9 && *v <= high + 1e-9) {
                    return Err(format!(
                        "`results.{task}.metrics.{name}` is {v}, outside the {name} range [{low}, {high}]"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Metric values of every task, NaN dropped.
    pub fn task_metrics(&self) -> TaskMetrics {
        self.results
            .iter()
            .map(|(task, r)| {
                (
                    task.clone(),
                    r.metrics
                        .iter()
                        .filter_map(|(m, v)| v.map(|v| (m.clone(), v)))
                        .collect(),
                )
            })
            .collect()
    }

    /// Fills `averages` with the two GLUE averages, each when at least two of its inputs are
    /// present (an "average" of one task is just that task).
    pub fn compute_averages(&mut self) {
        let metrics = self.task_metrics();
        self.averages.clear();
        if let Some(a) = bert_table_average(&metrics).filter(|a| a.included.len() >= 2) {
            self.averages.insert(
                "bert_table".into(),
                AverageRecord::from(a, BERT_TABLE_DEFINITION),
            );
        }
        if let Some(a) = glue_group_average(&metrics).filter(|a| a.included.len() >= 2) {
            self.averages.insert(
                "glue_group".into(),
                AverageRecord::from(a, GLUE_GROUP_DEFINITION),
            );
        }
        if let Some(a) = superglue_average(&metrics).filter(|a| a.included.len() >= 2) {
            self.averages.insert(
                "superglue".into(),
                AverageRecord::from(a, SUPERGLUE_DEFINITION),
            );
        }
    }
}

/// One line of the predictions file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionLine {
    pub task: String,
    /// 0-based row index in the data file, header excluded.
    pub id: usize,
    /// Gold label name (or score); `null` on unlabelled splits.
    pub label: serde_json::Value,
    /// Predicted label name (or score).
    pub prediction: serde_json::Value,
    /// Raw head outputs in the model's order; for similarity scoring, the cosine; for rank
    /// classification, each label's log-likelihood.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logits: Vec<f64>,
    /// Text-to-text: the model input exactly as fed (after T5's preprocessor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Text-to-text: the decoded output, without special tokens, stripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Text-to-text: T5's target string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Heads: the text (pair) as read from the file, before tokenization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_a: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_b: Option<String>,
    /// LM: the context and the scored continuation of a loglikelihood request (for rolling
    /// requests the context is the whole scored text and there is no continuation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
    /// LM: Σ log p of the continuation (or the text), natural log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loglikelihood: Option<f64>,
    /// LM: scored tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<usize>,
    /// LM: whether every scored token was the argmax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greedy: Option<bool>,
    /// LM: the argmax tokens at the scored positions, decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greedy_continuation: Option<String>,
}

impl PredictionLine {
    /// A line with the fields every kind has; the kind's own fields start empty.
    pub fn new(
        task: &str,
        id: usize,
        label: serde_json::Value,
        prediction: serde_json::Value,
    ) -> Self {
        Self {
            task: task.to_string(),
            id,
            label,
            prediction,
            logits: Vec::new(),
            input: None,
            output: None,
            target: None,
            text_a: None,
            text_b: None,
            context: None,
            continuation: None,
            loglikelihood: None,
            tokens: None,
            greedy: None,
            greedy_continuation: None,
        }
    }
}
