//! Text-to-text evaluation (T5), top to bottom: T5 task files → rows → T5's preprocessor →
//! token ids → batched generation (greedy with the cache by default; beam search or rank
//! classification on request) → decoded strings → T5's post-processors → metrics → the same
//! result record and table as the BERT heads, under the same task names.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _};
use evalrun_core::bootstrap::{self, BootstrapSpec, Interval};
use evalrun_core::t5 as t5m;
use evalrun_core::text::bleu::{Bleu, BleuConfig, BleuStats};
use evalrun_core::text::pyfloat::python_float;
use evalrun_core::text::rouge::{score_t5, RougeScores};
use evalrun_core::text::squad::SquadScore;
use evalrun_core::PairedScores;
use evalrun_report::{sha256_file, DataProvenance, ModelProvenance, PredictionLine, TaskResult};
use evalrun_runtime::{GenerateOptions, Runtime, Seq2SeqFiles, Seq2SeqLm};
use evalrun_tasks::t2t::{self, Preprocess, T2tDataset, T2tExample, T2tGold, T2tTaskSpec};

use crate::engine::{progress_bar, write_outputs, Execution};
use crate::resolve::ModelResolver;
use crate::settings::Settings;

/// A task's split: from `--data-dir` when given, else from its Hub Parquet source.
fn load_data(
    task: &T2tTaskSpec,
    split: &str,
    settings: &Settings,
    resolver: &ModelResolver,
) -> anyhow::Result<T2tDataset> {
    if let Some(dir) = &settings.data_dir {
        return Ok(t2t::load(task, split, dir)?);
    }
    let hub =
        crate::sources::hub_source(&task.name, split, task.hub.get(split), task.splits.keys())?;
    let path = resolver.dataset_file(&hub.dataset, &hub.path)?;
    Ok(evalrun_tasks::parquet::load_t2t_split(
        task, split, hub, &path,
    )?)
}

/// Decoding flags shared by `run`, `glue` and `superglue`.
#[derive(Debug, Clone, Default)]
pub struct DecodeFlags {
    pub max_new_tokens: Option<usize>,
    pub beams: Option<usize>,
    pub length_penalty: Option<f64>,
    pub no_kv_cache: bool,
    pub rank_classification: bool,
    pub limit: Option<usize>,
}

/// Whether `--model` is an encoder-decoder model: a local export with `encoder_model.onnx`, a
/// `seq2seq` preset, or a Hub repository that resolves to one.
pub fn is_seq2seq(settings: &Settings) -> anyhow::Result<bool> {
    let local = |task: &str| {
        let dir = settings.model.replace("{task}", task);
        std::path::Path::new(&dir)
            .is_dir()
            .then(|| Seq2SeqFiles::is_seq2seq(std::path::Path::new(&dir)))
    };
    if let Some(answer) = std::iter::once("")
        .chain(settings.tasks.iter().map(String::as_str))
        .find_map(local)
    {
        return Ok(answer);
    }
    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    if let Some(preset) = resolver.presets().get(&settings.model) {
        return Ok(preset.kind == crate::presets::ModelKind::Seq2seq);
    }
    if settings.model.contains("{task}") {
        return Ok(false);
    }
    let resolved = resolver.resolve(&settings.model, "")?;
    Ok(Seq2SeqFiles::is_seq2seq(&resolved.dir))
}

pub fn run(settings: Settings, flags: DecodeFlags) -> anyhow::Result<()> {
    let runtime = crate::engine::runtime(&settings)?;
    let execution = execute(&settings, &flags, &runtime)?;
    write_outputs(&settings, &execution)?;
    print!(
        "{}",
        evalrun_report::markdown::render(&execution.record, &execution.order)
    );
    Ok(())
}

/// The T5 tasks `names` select within `suite` (`all`, names, aliases, `mnli`).
pub fn resolve(suite: Option<&str>, names: &[String]) -> anyhow::Result<Vec<T2tTaskSpec>> {
    let all = t2t::embedded()?;
    let in_suite = |t: &T2tTaskSpec| suite.is_none_or(|s| t.suite == s);
    let mut out: Vec<T2tTaskSpec> = Vec::new();
    for name in names {
        let matched: Vec<&T2tTaskSpec> = all
            .iter()
            .filter(|t| in_suite(t))
            .filter(|t| {
                name == "all"
                    || t.name == *name
                    || (suite.is_some() && t.alias.as_deref() == Some(name.as_str()))
                    || (name == "mnli" && t.name.starts_with("mnli_"))
            })
            .collect();
        if matched.is_empty() {
            let known: Vec<&str> = all
                .iter()
                .filter(|t| in_suite(t))
                .map(|t| t.alias.as_deref().unwrap_or(&t.name))
                .collect();
            bail!(
                "unknown text-to-text task `{name}`{}; known: {}",
                suite
                    .map(|s| format!(" in suite `{s}`"))
                    .unwrap_or_default(),
                known.join(", ")
            );
        }
        for t in matched {
            if !out.iter().any(|o| o.name == t.name) {
                out.push(t.clone());
            }
        }
    }
    Ok(out)
}

pub fn execute(
    settings: &Settings,
    flags: &DecodeFlags,
    runtime: &Runtime,
) -> anyhow::Result<Execution> {
    let started = Instant::now();
    let tasks = resolve(settings.suite, &settings.tasks)?;
    let explicit = |task: &T2tTaskSpec| {
        settings
            .tasks
            .iter()
            .any(|t| *t == task.name || Some(t.as_str()) == task.alias.as_deref() || t == "mnli")
    };
    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    let tasks_ref: Vec<&T2tTaskSpec> = tasks.iter().collect();
    let (datasets, skipped) = crate::sources::load_all(
        &tasks_ref,
        |t: &T2tTaskSpec| t.name.clone(),
        explicit,
        |task| {
            let split = settings
                .split
                .clone()
                .unwrap_or_else(|| task.default_split.clone());
            let mut dataset = load_data(task, &split, settings, &resolver)?;
            if let Some(limit) = flags.limit {
                dataset.examples.truncate(limit);
            }
            Ok(dataset)
        },
        &settings.data_origin(),
    )?;
    let mut record = crate::engine::new_record(settings, runtime, skipped);
    let mut models: HashMap<PathBuf, (Seq2SeqLm, ModelProvenance)> = HashMap::new();
    let mut lines = Vec::new();
    for (task, dataset) in &datasets {
        let resolved = resolver.resolve(&settings.model, &task.name)?;
        let dir = resolved.dir.clone();
        if !models.contains_key(&dir) {
            let model = Seq2SeqLm::load(runtime, &dir, settings.max_length.unwrap_or(512))?;
            let files = model.files();
            let provenance = ModelProvenance {
                path: files.decoder_graph().display().to_string(),
                sha256: sha256_file(files.decoder_graph())?,
                tokenizer_sha256: sha256_file(&files.tokenizer)?,
                scoring: String::new(),
                max_length: model.max_input_tokens(),
                label_mapping: None,
                source: Some(resolved.origin.clone()).filter(|o| o != "local"),
            };
            models.insert(dir.clone(), (model, provenance));
        }
        let (model, provenance) = models.get_mut(&dir).expect("inserted above");
        let task_started = Instant::now();
        let outcome = evaluate(task, dataset, model, settings, flags)
            .with_context(|| format!("task `{}` with model `{}`", task.name, dir.display()))?;
        let wall = task_started.elapsed().as_secs_f64();
        let mut provenance = provenance.clone();
        provenance.scoring = outcome.scoring;
        lines.extend(outcome.lines);
        record.results.insert(
            task.name.clone(),
            TaskResult {
                metrics: outcome.metrics,
                n: dataset.examples.len(),
                split: dataset.split.clone(),
                task_version: task.version,
                protocol: task.protocol.clone(),
                table_metric: task.table_metric.clone(),
                model: provenance,
                data: DataProvenance {
                    path: dataset.path.display().to_string(),
                    sha256: dataset.sha256.clone(),
                    labels_path: None,
                    labels_sha256: None,
                },
                wall_seconds: wall,
                examples_per_second: dataset.examples.len() as f64 / wall.max(1e-9),
                ci: outcome.ci,
                bootstrap: (settings.bootstrap.resamples > 0).then_some(settings.bootstrap),
                sums: outcome.sums,
                windows: None,
            },
        );
    }
    record.compute_averages();
    record.wall_seconds = started.elapsed().as_secs_f64();
    Ok(Execution {
        record,
        lines,
        submissions: Vec::new(),
        order: tasks.iter().map(|t| t.name.clone()).collect(),
    })
}

struct Outcome {
    metrics: BTreeMap<String, Option<f64>>,
    ci: BTreeMap<String, Interval>,
    sums: BTreeMap<String, f64>,
    lines: Vec<PredictionLine>,
    scoring: String,
}

fn evaluate(
    task: &T2tTaskSpec,
    dataset: &T2tDataset,
    model: &mut Seq2SeqLm,
    settings: &Settings,
    flags: &DecodeFlags,
) -> anyhow::Result<Outcome> {
    let examples = &dataset.examples;
    let texts: Vec<&str> = examples.iter().map(|e| e.input.as_str()).collect();
    let ids = model.tokenize(&texts)?;
    let progress = progress_bar(&task.name, examples.len());
    let mut tick = |n: usize| progress.inc(n as u64);
    let rank = flags.rank_classification && !task.labels.is_empty();
    let mut generated_tokens = 0usize;
    let (outputs, logits, scoring) = if rank {
        let labels: Vec<&str> = task.labels.iter().map(String::as_str).collect();
        let options = model.tokenize(&labels)?;
        let mut outputs = Vec::with_capacity(examples.len());
        let mut all = Vec::with_capacity(examples.len());
        for input in &ids {
            let scores = model.score_options(input, &options)?;
            let mut best = 0;
            for (i, s) in scores.iter().enumerate() {
                if *s > scores[best] {
                    best = i;
                }
            }
            outputs.push(task.labels[best].clone());
            all.push(scores);
            tick(1);
        }
        (
            outputs,
            all,
            "rank classification (Σ log p of each label + </s>)".to_string(),
        )
    } else {
        let beams = flags.beams.or(task.beams).unwrap_or(1);
        let options = GenerateOptions {
            max_new_tokens: flags.max_new_tokens.unwrap_or(task.max_new_tokens),
            batch_size: settings.batch_size,
            use_cache: !flags.no_kv_cache,
            beams,
            length_penalty: flags.length_penalty.or(task.length_penalty).unwrap_or(1.0),
        };
        if options.use_cache && !model.has_cache() {
            tracing::info!("the export has no decoder cache graph; decoding without it");
        }
        let generated = model.generate(&ids, &options, &mut tick)?;
        generated_tokens = generated.iter().map(Vec::len).sum::<usize>();
        let outputs = generated
            .iter()
            .map(|g| model.decode(g))
            .collect::<Result<Vec<_>, _>>()?;
        let how = if beams > 1 {
            format!(
                "beam search ({beams} beams, length penalty {}, ≤{} new tokens)",
                options.length_penalty, options.max_new_tokens
            )
        } else {
            format!("greedy decoding (≤{} new tokens)", options.max_new_tokens)
        };
        (outputs, vec![Vec::new(); examples.len()], how)
    };
    progress.finish_and_clear();
    let (metrics, ci, mut sums) = score(task, examples, &outputs, settings.bootstrap)?;
    if !rank {
        // New tokens without `</s>`: the throughput figure of `scripts/bench_t5.py`.
        sums.insert("generated_tokens".into(), generated_tokens as f64);
    }
    let lines = examples
        .iter()
        .zip(&outputs)
        .zip(logits)
        .map(|((e, output), logits)| PredictionLine {
            task: task.name.clone(),
            id: e.id,
            label: gold_json(task, e),
            prediction: prediction_json(task, output),
            logits,
            input: Some(e.input.clone()),
            output: Some(output.clone()),
            target: Some(e.target.clone()),
        })
        .collect();
    Ok(Outcome {
        metrics,
        ci,
        sums,
        lines,
        scoring,
    })
}

fn gold_json(task: &T2tTaskSpec, e: &T2tExample) -> serde_json::Value {
    match &e.gold {
        Some(T2tGold::Class(c)) => task.labels.get(*c).cloned().into(),
        Some(T2tGold::Score(_)) => python_float(&e.target).into(),
        Some(T2tGold::Answers(a)) => a.clone().into(),
        Some(T2tGold::Text(t)) => t.clone().into(),
        None => serde_json::Value::Null,
    }
}

fn prediction_json(task: &T2tTaskSpec, output: &str) -> serde_json::Value {
    if !task.labels.is_empty() {
        return t5m::class_id(output, &task.labels)
            .map_or(serde_json::Value::Null, |c| task.labels[c].clone().into());
    }
    if matches!(task.preprocess, Preprocess::Stsb) {
        return python_float(output).unwrap_or(-1.0).into();
    }
    output.into()
}

type Scores = (
    BTreeMap<String, Option<f64>>,
    BTreeMap<String, Interval>,
    BTreeMap<String, f64>,
);

/// T5's metric definitions (t5/data/glue_utils.py GLUE_METRICS, SUPERGLUE_METRICS; squad, bleu,
/// rouge), stored as fractions.
fn score(
    task: &T2tTaskSpec,
    examples: &[T2tExample],
    outputs: &[String],
    spec: BootstrapSpec,
) -> anyhow::Result<Scores> {
    let mut metrics = BTreeMap::new();
    let mut ci = BTreeMap::new();
    let mut sums = BTreeMap::new();
    let labelled: Vec<usize> = (0..examples.len())
        .filter(|&i| examples[i].gold.is_some())
        .collect();
    if labelled.is_empty() {
        return Ok((metrics, ci, sums));
    }
    // Bootstrap units: MultiRC resamples whole questions (T5 groups its exact match by
    // question), every other task single examples.
    let mut units: Vec<Vec<usize>> = Vec::new();
    let mut unit_of_group: HashMap<u64, usize> = HashMap::new();
    for (row, &i) in labelled.iter().enumerate() {
        match examples[i].group {
            Some(g) => {
                let u = *unit_of_group.entry(g).or_insert_with(|| {
                    units.push(Vec::new());
                    units.len() - 1
                });
                units[u].push(row);
            }
            None => units.push(vec![row]),
        }
    }
    let mut put = Recorder {
        metrics: &mut metrics,
        ci: &mut ci,
        units: &units,
        spec,
    };
    let classes = task.labels.len();
    match &task.preprocess {
        Preprocess::Glue { .. } => {
            let pairs: Vec<(usize, Option<usize>)> = labelled
                .iter()
                .map(|&i| {
                    let gold = match examples[i].gold {
                        Some(T2tGold::Class(c)) => c,
                        _ => unreachable!("classification rows"),
                    };
                    (gold, t5m::class_id(&outputs[i], &task.labels))
                })
                .collect();
            let pick = |idx: &[usize]| idx.iter().map(|&i| pairs[i]).collect::<Vec<_>>();
            for metric in &task.metrics {
                match metric.as_str() {
                    "accuracy" => put.rows("accuracy", &|idx| t5m::accuracy(&pick(idx))),
                    "mcc" => put.rows("mcc", &|idx| t5m::mcc(&pick(idx), classes)),
                    "f1" => put.rows("f1", &|idx| t5m::f1_with_invalid(&pick(idx))),
                    "macro_f1" => put.rows("macro_f1", &|idx| t5m::macro_f1(&pick(idx), classes)),
                    "exact_match" => {
                        let rows: Vec<(u64, usize, Option<usize>)> =
                            pairs.iter().map(|&(g, p)| (0, g, p)).collect();
                        put.grouped("exact_match", &|sel| {
                            // A question drawn twice counts twice: its slot is the group.
                            let picked: Vec<_> = sel
                                .iter()
                                .map(|&(slot, r)| (slot, rows[r].1, rows[r].2))
                                .collect();
                            t5m::group_exact_match(&picked)
                        })
                    }
                    other => bail!("metric `{other}` does not apply to a classification task"),
                }
            }
        }
        Preprocess::Stsb => {
            let pairs: Vec<(f64, f64)> = labelled
                .iter()
                .map(|&i| {
                    (
                        python_float(&outputs[i]).unwrap_or(-1.0),
                        python_float(&examples[i].target).unwrap_or(-1.0),
                    )
                })
                .collect();
            let scores = |idx: &[usize]| {
                let mut s = PairedScores::new();
                for &i in idx {
                    s.push(pairs[i].0, pairs[i].1);
                }
                s
            };
            put.rows("pearson", &|idx| scores(idx).pearson());
            put.rows("spearman", &|idx| scores(idx).spearman());
        }
        Preprocess::Squad => {
            let official: Vec<SquadScore> = labelled
                .iter()
                .map(|&i| match &examples[i].gold {
                    Some(T2tGold::Answers(a)) => SquadScore::new(&outputs[i], a),
                    _ => unreachable!("SQuAD rows carry answers"),
                })
                .collect::<Result<_, _>>()?;
            let padded: Vec<SquadScore> = labelled
                .iter()
                .map(|&i| SquadScore::new(&outputs[i], &examples[i].padded_answers))
                .collect::<Result<_, _>>()?;
            let em = |s: &[SquadScore], idx: &[usize]| {
                idx.iter().filter(|&&i| s[i].exact_match).count() as f64 / idx.len() as f64
            };
            let f1 = |s: &[SquadScore], idx: &[usize]| {
                idx.iter().map(|&i| s[i].f1).sum::<f64>() / idx.len() as f64
            };
            put.rows("exact_match", &|idx| em(&official, idx));
            put.rows("f1", &|idx| f1(&official, idx));
            put.rows("t5_exact_match", &|idx| em(&padded, idx));
            put.rows("t5_f1", &|idx| f1(&padded, idx));
        }
        Preprocess::Translate { .. } => {
            let bleu = Bleu::new(BleuConfig::t5());
            let stats: Vec<BleuStats> = labelled
                .iter()
                .map(|&i| bleu.segment_stats(&outputs[i], &[examples[i].target.as_str()]))
                .collect::<Result<_, _>>()?;
            let total: BleuStats = stats.iter().sum();
            sums.insert("sys_len".into(), total.sys_len as f64);
            sums.insert("ref_len".into(), total.ref_len as f64);
            put.rows("bleu", &|idx| {
                let s: BleuStats = idx.iter().map(|&i| &stats[i]).sum();
                bleu.score_stats(&s).score / 100.0
            });
        }
        Preprocess::Summarize => {
            let scores: Vec<RougeScores> = labelled
                .iter()
                .map(|&i| score_t5(&examples[i].target, &outputs[i]))
                .collect();
            let mean = |f: &dyn Fn(&RougeScores) -> f64, idx: &[usize]| {
                idx.iter().map(|&i| f(&scores[i])).sum::<f64>() / idx.len() as f64
            };
            put.rows("rouge1", &|idx| mean(&|s| s.rouge1.fmeasure, idx));
            put.rows("rouge2", &|idx| mean(&|s| s.rouge2.fmeasure, idx));
            put.rows("rougeLsum", &|idx| mean(&|s| s.rouge_lsum.fmeasure, idx));
        }
    }
    Ok((metrics, ci, sums))
}

/// A metric over drawn rows: (slot of the drawn unit, row index) pairs.
type Statistic<'f> = &'f dyn Fn(&[(u64, usize)]) -> f64;

/// Records metrics with their bootstrap intervals, resampling `units` (lists of row indices).
struct Recorder<'a> {
    metrics: &'a mut BTreeMap<String, Option<f64>>,
    ci: &'a mut BTreeMap<String, Interval>,
    units: &'a [Vec<usize>],
    spec: BootstrapSpec,
}

impl Recorder<'_> {
    /// `f` gets (slot of the drawn unit, row) pairs.
    fn grouped(&mut self, name: &str, f: Statistic<'_>) {
        let units = self.units;
        let expand = |drawn: &[usize]| -> Vec<(u64, usize)> {
            drawn
                .iter()
                .enumerate()
                .flat_map(|(slot, &u)| units[u].iter().map(move |&r| (slot as u64, r)))
                .collect()
        };
        let all: Vec<usize> = (0..units.len()).collect();
        let value = f(&expand(&all));
        self.metrics
            .insert(name.to_string(), Some(value).filter(|v| v.is_finite()));
        if let Some(interval) = bootstrap::bootstrap(units.len(), self.spec, |idx| f(&expand(idx)))
        {
            self.ci.insert(name.to_string(), interval);
        }
    }

    /// `f` gets row indices.
    fn rows(&mut self, name: &str, f: &dyn Fn(&[usize]) -> f64) {
        self.grouped(name, &|sel| f(&sel.iter().map(|s| s.1).collect::<Vec<_>>()));
    }
}
