//! The regression gate: compare a run with a baseline record metric by metric.
//!
//! A metric passes when |run − baseline| ≤ its tolerance. Tolerances come from rules, looked up
//! for `task.metric`, then `task`, then `metric`, then `[default]` in the tolerance file, then
//! `--tolerance`, then the built-in default (absolute 1e-4: float noise across CPUs). A rule may
//! combine several allowances and the largest applies:
//!
//! ```toml
//! spread_file = "spread.json"       # written by `evalrun calibrate`
//! [default]
//! absolute = 0.005
//! [metrics."cola.mcc"]
//! relative = 0.02                   # 2% of |baseline|
//! [metrics.stsb]
//! spread = 3.0                      # 3 × calibrated run-to-run spread
//! ci = 2.0                          # 2 × sqrt(se_run² + se_baseline²) from the bootstrap
//! [metrics."wikitext2.word_perplexity"]
//! direction = "both"                # fail on a move either way (default: worse only)
//! ```
//!
//! Direction: by default a metric fails only when it moves beyond its tolerance in its worse
//! direction (down for accuracy, up for perplexity, as the record's `higher_is_better` says);
//! a move beyond it in the better direction passes and is reported as an improvement.
//! `direction = "higher"` (higher is better), `"lower"` or `"both"` (any move fails) overrides it
//! per rule, and `evalrun check --direction` for every metric.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;
use crate::write::ReportError;

/// Which moves beyond the tolerance fail the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher is better: only a drop fails.
    Higher,
    /// Lower is better: only a rise fails.
    Lower,
    /// Any move fails (exact reproduction).
    Both,
}

impl Direction {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "higher" => Ok(Direction::Higher),
            "lower" => Ok(Direction::Lower),
            "both" => Ok(Direction::Both),
            other => Err(format!(
                "direction `{other}` is not `higher` (higher is better), `lower` or `both`"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub absolute: Option<f64>,
    #[serde(default)]
    pub relative: Option<f64>,
    #[serde(default)]
    pub spread: Option<f64>,
    #[serde(default)]
    pub ci: Option<f64>,
    /// Which moves fail; default: the metric's worse direction.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Gate this metric by a paired test (`evalrun check --predictions`) instead of an
    /// allowance: it fails only when the run is significantly worse.
    #[serde(default)]
    pub significant: Option<bool>,
}

pub const DEFAULT_RULE: Rule = Rule {
    absolute: Some(1e-4),
    relative: None,
    spread: None,
    ci: None,
    direction: None,
    significant: None,
};

impl Rule {
    /// `0.01` (absolute) or `2%` (relative).
    pub fn parse(text: &str) -> Result<Rule, String> {
        let text = text.trim();
        let bad = || {
            format!("tolerance `{text}` is neither a number (absolute) nor a percentage like `2%` (relative)")
        };
        match text.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| Rule {
                    relative: Some(v / 100.0),
                    ..Rule::default()
                })
                .ok_or_else(bad),
            None => text
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| Rule {
                    absolute: Some(v),
                    ..Rule::default()
                })
                .ok_or_else(bad),
        }
    }

    /// Whether the rule gives any allowance (else it only sets a direction).
    fn has_allowance(&self) -> bool {
        self.absolute.is_some()
            || self.relative.is_some()
            || self.spread.is_some()
            || self.ci.is_some()
    }

    /// Every allowance given is a finite number of at least 0: a negative, NaN or infinite one
    /// would gate nothing (or everything) without a word. Names the first that is not.
    fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("absolute", self.absolute),
            ("relative", self.relative),
            ("spread", self.spread),
            ("ci", self.ci),
        ] {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(format!(
                    "`{key} = {v}`: an allowance is a finite number of at least 0"
                ));
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = self.absolute {
            parts.push(format!("abs {a}"));
        }
        if let Some(r) = self.relative {
            // Rounded to 9 decimals, so 1e-6 prints as 0.0001% and not 0.00009999999999999999%.
            parts.push(format!("rel {}%", (r * 100.0 * 1e9).round() / 1e9));
        }
        if let Some(k) = self.spread {
            parts.push(format!("{k}×spread"));
        }
        if let Some(k) = self.ci {
            parts.push(format!("{k}×CI se"));
        }
        parts.join(", ")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToleranceFile {
    #[serde(default)]
    pub spread_file: Option<String>,
    #[serde(default)]
    pub default: Option<Rule>,
    #[serde(default)]
    pub metrics: BTreeMap<String, Rule>,
}

/// Run-to-run spread per `task.metric`, written by `evalrun calibrate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// `runs` (standard deviation over repeated evaluations) or `bootstrap` (bootstrap
    /// standard error of one run).
    pub method: String,
    pub runs: usize,
    pub spread: BTreeMap<String, f64>,
}

impl ToleranceFile {
    pub fn read(path: &Path) -> Result<(Self, Option<Spread>), ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ToleranceFile = toml::from_str(&text).map_err(|e| ReportError::BadRecord {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Every rule with the name a message gives it.
        let rules: Vec<(String, &Rule)> = file
            .default
            .iter()
            .map(|r| ("[default]".to_string(), r))
            .chain(
                file.metrics
                    .iter()
                    .map(|(k, r)| (format!("[metrics.\"{k}\"]"), r)),
            )
            .collect();
        for (name, rule) in &rules {
            rule.validate().map_err(|why| ReportError::BadRecord {
                path: path.to_path_buf(),
                message: format!("{name}: {why}"),
            })?;
        }
        let uses_spread = rules.iter().find(|(_, r)| r.spread.is_some());
        if let (Some((name, _)), None) = (&uses_spread, &file.spread_file) {
            return Err(ReportError::BadRecord {
                path: path.to_path_buf(),
                message: format!(
                    "{name} sets `spread` but the file names no `spread_file`; write one with `evalrun calibrate --spread spread.json ...` and add `spread_file = \"spread.json\"`"
                ),
            });
        }
        let spread = match &file.spread_file {
            Some(name) => {
                let spread_path = path.parent().unwrap_or(Path::new(".")).join(name);
                let text =
                    std::fs::read_to_string(&spread_path).map_err(|source| ReportError::Read {
                        path: spread_path.clone(),
                        source,
                    })?;
                Some(
                    serde_json::from_str(&text).map_err(|e| ReportError::BadRecord {
                        path: spread_path,
                        message: e.to_string(),
                    })?,
                )
            }
            None => None,
        };
        Ok((file, spread))
    }

    /// The rule for `task.metric`, `task` or `metric`, else `[default]`, else `fallback`. A
    /// rule that sets only a `direction` keeps the allowance of `[default]` (else of
    /// `fallback`): it says which moves fail, not that none is allowed.
    fn rule_for(&self, task: &str, metric: &str, fallback: Rule) -> Rule {
        let base = self.default.unwrap_or(fallback);
        match [
            format!("{task}.{metric}"),
            task.to_string(),
            metric.to_string(),
        ]
        .iter()
        .find_map(|k| self.metrics.get(k).copied())
        {
            Some(own) if !own.has_allowance() => Rule {
                direction: own.direction.or(base.direction),
                significant: own.significant.or(base.significant),
                ..base
            },
            Some(own) => own,
            None => base,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRow {
    pub task: String,
    pub metric: String,
    pub baseline: Option<f64>,
    pub run: Option<f64>,
    pub delta: Option<f64>,
    pub tolerance: f64,
    pub rule: String,
    /// The run's 95% interval, when it has one.
    pub ci: Option<(f64, f64)>,
    pub pass: bool,
    /// Whether a value was compared (both sides defined).
    pub compared: bool,
    /// Beyond the tolerance in the better direction (passes; reported).
    pub improved: bool,
    pub note: String,
    /// Which moves fail.
    pub direction: Direction,
    /// The rule asks for a paired test (`significant = true`).
    pub significant: bool,
}

/// How the gate went, counted honestly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Baseline metrics whose values were compared.
    pub compared: usize,
    pub failed: usize,
    /// Compared and beyond the tolerance in the better direction.
    pub improved: usize,
    /// Undefined (NaN/empty) in both.
    pub undefined: usize,
    /// Only the run has them.
    pub not_gated: usize,
}

pub fn summarize(rows: &[CheckRow]) -> Summary {
    let mut s = Summary::default();
    for r in rows {
        if r.compared {
            s.compared += 1;
        } else if r.pass && r.baseline.is_none() && r.run.is_none() && r.note == "undefined in both"
        {
            s.undefined += 1;
        } else if r.pass {
            s.not_gated += 1;
        }
        s.failed += usize::from(!r.pass);
        s.improved += usize::from(r.improved);
    }
    s
}

/// Gates `run` against `baseline`. Every baseline metric is checked; metrics only the run has
/// are listed as not gated.
pub fn check(
    run: &RunRecord,
    baseline: &RunRecord,
    tolerances: &ToleranceFile,
    spread: Option<&Spread>,
    fallback: Rule,
    direction: Option<Direction>,
) -> Vec<CheckRow> {
    let mut rows = Vec::new();
    for (task, base) in &baseline.results {
        for (metric, base_value) in &base.metrics {
            let mut rule = tolerances.rule_for(task, metric, fallback);
            if !rule.has_allowance() {
                // A rule that only sets a direction (or a paired test) keeps the fallback's
                // allowance.
                rule = Rule {
                    direction: rule.direction,
                    significant: rule.significant,
                    ..fallback
                };
            }
            let result = run.results.get(task);
            let run_value = result.and_then(|r| r.metrics.get(metric).copied());
            let ci = result
                .and_then(|r| r.ci.get(metric))
                .map(|c| (c.low, c.high));
            let mut tolerance: f64 = 0.0;
            if let Some(a) = rule.absolute {
                tolerance = tolerance.max(a);
            }
            if let (Some(r), Some(b)) = (rule.relative, base_value) {
                tolerance = tolerance.max(r * b.abs());
            }
            if let (Some(k), Some(s)) = (
                rule.spread,
                spread.and_then(|s| s.spread.get(&format!("{task}.{metric}"))),
            ) {
                tolerance = tolerance.max(k * s);
            }
            if let Some(k) = rule.ci {
                let se = |r: Option<&crate::record::TaskResult>| {
                    r.and_then(|r| r.ci.get(metric))
                        .map_or(0.0, |c| c.std_error)
                };
                tolerance = tolerance.max(k * (se(result).powi(2) + se(Some(base)).powi(2)).sqrt());
            }
            let higher_is_better = base
                .higher_is_better
                .get(metric)
                .or_else(|| result.and_then(|r| r.higher_is_better.get(metric)))
                .copied()
                .or_else(|| evalrun_core::Metric::from_name(metric).map(|m| m.higher_is_better()))
                .unwrap_or(true);
            let direction = direction.or(rule.direction).unwrap_or(if higher_is_better {
                Direction::Higher
            } else {
                Direction::Lower
            });
            let mut improved = false;
            let (pass, delta, note) = match (run_value, base_value) {
                (None, _) if result.is_none() => {
                    (false, None, "task missing from the run".to_string())
                }
                (None, _) => (false, None, "metric missing from the run".to_string()),
                (Some(None), None) => (true, None, "undefined in both".to_string()),
                (Some(Some(r)), Some(b)) => {
                    let d = r - b;
                    let beyond = d.abs() > tolerance;
                    let better = match direction {
                        Direction::Higher => d > 0.0,
                        Direction::Lower => d < 0.0,
                        Direction::Both => false,
                    };
                    if beyond && better {
                        improved = true;
                        (
                            true,
                            Some(d),
                            "improved beyond the tolerance; bless to make it the baseline"
                                .to_string(),
                        )
                    } else {
                        (!beyond, Some(d), String::new())
                    }
                }
                (Some(_), _) => (false, None, "defined in only one of the two".to_string()),
            };
            let compared = matches!((run_value, base_value), (Some(Some(_)), Some(_)));
            rows.push(CheckRow {
                task: task.clone(),
                metric: metric.clone(),
                baseline: *base_value,
                run: run_value.flatten(),
                delta,
                tolerance,
                rule: rule.describe(),
                ci,
                pass,
                compared,
                improved,
                note,
                direction,
                significant: rule.significant == Some(true),
            });
        }
    }
    for (task, result) in &run.results {
        for (metric, value) in &result.metrics {
            if baseline
                .results
                .get(task)
                .is_none_or(|b| !b.metrics.contains_key(metric))
            {
                rows.push(CheckRow {
                    task: task.clone(),
                    metric: metric.clone(),
                    baseline: None,
                    run: *value,
                    delta: None,
                    tolerance: 0.0,
                    rule: String::new(),
                    ci: None,
                    pass: true,
                    compared: false,
                    improved: false,
                    note: "not in the baseline (not gated)".into(),
                    direction: Direction::Both,
                    significant: false,
                });
            }
        }
    }
    rows
}

/// `check --rule significant` (or `significant = true` in a rule): a compared metric with a
/// paired test (baseline = A, run = B) fails only when the run is worse at level `alpha`;
/// its allowance is not used. Metrics without a paired test keep their tolerance outcome and
/// say so.
pub fn apply_significance(
    rows: &mut [CheckRow],
    paired: &[crate::significance::PairedRow],
    alpha: f64,
    everywhere: bool,
) {
    for row in rows
        .iter_mut()
        .filter(|r| r.compared && (everywhere || r.significant))
    {
        let Some(t) = paired
            .iter()
            .find(|t| t.task == row.task && t.metric == row.metric)
        else {
            row.note = format!("no paired test for {}; {}", row.metric, row.rule);
            continue;
        };
        let worse = match row.direction {
            Direction::Higher => t.delta < 0.0,
            Direction::Lower => t.delta > 0.0,
            Direction::Both => true,
        };
        let significant = t.p < alpha;
        row.pass = !(significant && worse);
        row.improved = significant && !worse;
        row.tolerance = 0.0;
        row.rule = format!("paired test, α = {alpha}");
        let show = |v: f64| crate::markdown::on_scale(&row.metric, v);
        row.note = format!(
            "Δ {} [{}, {}], p {} ({}, n {})",
            show(t.delta),
            show(t.low),
            show(t.high),
            crate::significance::format_p(t.p),
            t.test,
            t.n
        );
    }
}

/// Where the run and the baseline were not made the same way: another model, other data or
/// other settings. A gate across such a difference compares different things.
pub fn provenance_warnings(run: &RunRecord, baseline: &RunRecord) -> Vec<String> {
    differences(run, baseline, "the run", "the baseline")
}

/// What differs between two runs' models, data, example counts, task versions and settings,
/// `a` and `b` naming them: the warnings `check` and `diff` print.
pub fn differences(run: &RunRecord, baseline: &RunRecord, a: &str, b: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (task, base) in &baseline.results {
        let Some(r) = run.results.get(task) else {
            continue;
        };
        if r.model.sha256 != base.model.sha256 {
            out.push(format!(
                "{task}: {a}'s model (sha256 {}) is not {b}'s ({})",
                short(&r.model.sha256),
                short(&base.model.sha256)
            ));
        }
        if r.data.sha256 != base.data.sha256 {
            out.push(format!(
                "{task}: {a}'s data file (sha256 {}) is not {b}'s ({})",
                short(&r.data.sha256),
                short(&base.data.sha256)
            ));
        }
        if r.n != base.n {
            out.push(format!(
                "{task}: {a} scored {} examples, {b} {}",
                r.n, base.n
            ));
        }
        if r.task_version != base.task_version {
            out.push(format!(
                "{task}: task version {} in {a}, {} in {b}",
                r.task_version, base.task_version
            ));
        }
    }
    if let (Some(ca), Some(cb)) = (&run.config, &baseline.config) {
        let given = |v: Option<String>| v.unwrap_or_else(|| "not given".into());
        let options = |o: &std::collections::BTreeMap<String, String>| {
            if o.is_empty() {
                "none".to_string()
            } else {
                o.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let pairs = [
            (
                "--limit",
                given(ca.limit.map(|v| v.to_string())),
                given(cb.limit.map(|v| v.to_string())),
            ),
            ("--split", given(ca.split.clone()), given(cb.split.clone())),
            (
                "--batch-size",
                ca.batch_size.to_string(),
                cb.batch_size.to_string(),
            ),
            (
                "--max-length",
                given(ca.max_length.map(|v| v.to_string())),
                given(cb.max_length.map(|v| v.to_string())),
            ),
            (
                "--bootstrap",
                ca.bootstrap_resamples.to_string(),
                cb.bootstrap_resamples.to_string(),
            ),
            ("--seed", ca.seed.to_string(), cb.seed.to_string()),
            ("options", options(&ca.options), options(&cb.options)),
        ];
        for (what, x, y) in pairs {
            if x != y {
                out.push(format!("{what} differs: {x} in {a}, {y} in {b}"));
            }
        }
    }
    out
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The gate's table (markdown), failures marked.
pub fn render(rows: &[CheckRow]) -> String {
    use std::fmt::Write as _;
    let fmt = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.6}"));
    let mut out = String::from("| Task | Metric | Baseline | Run | Δ | Tolerance | Run 95% CI | Status |\n|---|---|---:|---:|---:|---:|---|---|\n");
    for r in rows {
        let ci =
            r.ci.map_or_else(|| "–".into(), |(l, h)| format!("[{l:.4}, {h:.4}]"));
        let status = if !r.pass {
            let by = r.delta.map_or(String::new(), |d| {
                format!(" by {:.6}", d.abs() - r.tolerance)
            });
            format!("**FAIL**{by} {}", r.note)
        } else if r.improved {
            format!("improved ({})", r.note)
        } else if r.note.is_empty() {
            "ok".into()
        } else {
            format!("ok ({})", r.note)
        };
        let tolerance = if r.rule.is_empty() {
            "–".to_string()
        } else {
            format!("{:.6} ({})", r.tolerance, r.rule)
        };
        let cell = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.task),
            cell(&r.metric),
            fmt(r.baseline),
            fmt(r.run),
            fmt(r.delta),
            cell(&tolerance),
            ci,
            cell(status.trim_end())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_parse() {
        assert_eq!(Rule::parse("0.01").unwrap().absolute, Some(0.01));
        assert_eq!(Rule::parse("2%").unwrap().relative, Some(0.02));
        assert!(Rule::parse("two").unwrap_err().contains("`two`"));
        assert!(Rule::parse("-1").is_err());
    }

    #[test]
    fn rule_lookup_order() {
        let mut file = ToleranceFile::default();
        file.metrics.insert(
            "accuracy".into(),
            Rule {
                absolute: Some(0.3),
                ..Rule::default()
            },
        );
        file.metrics.insert(
            "rte".into(),
            Rule {
                absolute: Some(0.2),
                ..Rule::default()
            },
        );
        file.metrics.insert(
            "rte.accuracy".into(),
            Rule {
                absolute: Some(0.1),
                ..Rule::default()
            },
        );
        assert_eq!(
            file.rule_for("rte", "accuracy", DEFAULT_RULE).absolute,
            Some(0.1)
        );
        assert_eq!(file.rule_for("rte", "f1", DEFAULT_RULE).absolute, Some(0.2));
        assert_eq!(
            file.rule_for("sst2", "accuracy", DEFAULT_RULE).absolute,
            Some(0.3)
        );
        assert_eq!(file.rule_for("cola", "mcc", DEFAULT_RULE), DEFAULT_RULE);
    }

    /// Friction 5: examples/tolerances.toml's `wnli.accuracy` rule sets only `direction =
    /// "both"`; it keeps `[default]`'s allowances (it fell back to the built-in 1e-4).
    #[test]
    fn a_direction_only_rule_keeps_the_default_allowance() {
        let file: ToleranceFile =
            toml::from_str(include_str!("../../../examples/tolerances.toml")).unwrap();
        let rule = file.rule_for("wnli", "accuracy", DEFAULT_RULE);
        assert_eq!(rule.direction, Some(Direction::Both));
        assert_eq!((rule.absolute, rule.ci), (Some(0.002), Some(2.0)));
        // Without a [default], the fallback's allowance.
        let mut bare = ToleranceFile::default();
        bare.metrics.insert(
            "wnli.accuracy".into(),
            Rule {
                direction: Some(Direction::Both),
                ..Rule::default()
            },
        );
        let rule = bare.rule_for("wnli", "accuracy", DEFAULT_RULE);
        assert_eq!(
            (rule.absolute, rule.direction),
            (Some(1e-4), Some(Direction::Both))
        );
    }
}

#[cfg(test)]
mod fuzz {
    //! Tolerance files and result records from arbitrary bytes: never a panic, and every
    //! rejection names the file.
    use super::*;
    use proptest::prelude::*;

    const SEED_TOLERANCES: &str = include_str!("../../../examples/tolerances.toml");
    const SEED_RECORD: &str = include_str!("../../../results/baselines/glue-fixtures.json");

    fn mutate(seed: &str, cuts: &[(usize, usize, u8)]) -> Vec<u8> {
        let mut bytes = seed.as_bytes().to_vec();
        for &(at, len, byte) in cuts {
            let at = at % (bytes.len() + 1);
            let end = (at + len % 16).min(bytes.len());
            bytes.splice(at..end, [byte]);
        }
        bytes
    }

    fn read_both(bytes: &[u8]) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, bytes).unwrap();
        if let Err(e) = ToleranceFile::read(&path) {
            prop_assert!(
                e.to_string().contains("t.toml") || e.to_string().contains("spread"),
                "{e}"
            );
        }
        let path = dir.path().join("r.json");
        std::fs::write(&path, bytes).unwrap();
        if let Err(e) = RunRecord::read(&path) {
            prop_assert!(e.to_string().contains("r.json"), "{e}");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn mutated_tolerance_files_and_records(
            which in any::<bool>(),
            cuts in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..8),
        ) {
            let seed = if which { SEED_TOLERANCES } else { SEED_RECORD };
            read_both(&mutate(seed, &cuts))?;
        }

        #[test]
        fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            read_both(&bytes)?;
        }
    }

    #[test]
    fn the_example_tolerance_file_reads_as_it_is() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tolerances.toml");
        let (file, spread) = ToleranceFile::read(&path).unwrap();
        assert!(spread.is_none());
        assert_eq!(
            file.rule_for("wnli", "accuracy", DEFAULT_RULE).direction,
            Some(Direction::Both)
        );
    }
}
