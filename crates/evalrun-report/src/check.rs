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
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::record::RunRecord;
use crate::write::ReportError;

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
}

pub const DEFAULT_RULE: Rule = Rule {
    absolute: Some(1e-4),
    relative: None,
    spread: None,
    ci: None,
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
                .filter(|v| *v >= 0.0)
                .map(|v| Rule {
                    relative: Some(v / 100.0),
                    ..Rule::default()
                })
                .ok_or_else(bad),
            None => text
                .parse::<f64>()
                .ok()
                .filter(|v| *v >= 0.0)
                .map(|v| Rule {
                    absolute: Some(v),
                    ..Rule::default()
                })
                .ok_or_else(bad),
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = self.absolute {
            parts.push(format!("abs {a}"));
        }
        if let Some(r) = self.relative {
            parts.push(format!("rel {}%", r * 100.0));
        }
        if let Some(k) = self.spread {
            parts.push(format!("{k}×spread"));
        }
        if let Some(k) = self.ci {
            parts.push(format!("{k}×CI se"));
        }
        parts.join(" | ")
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

    fn rule_for(&self, task: &str, metric: &str, fallback: Rule) -> Rule {
        [
            format!("{task}.{metric}"),
            task.to_string(),
            metric.to_string(),
        ]
        .iter()
        .find_map(|k| self.metrics.get(k).copied())
        .or(self.default)
        .unwrap_or(fallback)
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
    pub note: String,
}

/// Gates `run` against `baseline`. Every baseline metric is checked; metrics only the run has
/// are listed as not gated.
pub fn check(
    run: &RunRecord,
    baseline: &RunRecord,
    tolerances: &ToleranceFile,
    spread: Option<&Spread>,
    fallback: Rule,
) -> Vec<CheckRow> {
    let mut rows = Vec::new();
    for (task, base) in &baseline.results {
        for (metric, base_value) in &base.metrics {
            let rule = tolerances.rule_for(task, metric, fallback);
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
            let (pass, delta, note) = match (run_value, base_value) {
                (None, _) if result.is_none() => {
                    (false, None, "task missing from the run".to_string())
                }
                (None, _) => (false, None, "metric missing from the run".to_string()),
                (Some(None), None) => (true, None, "undefined in both".to_string()),
                (Some(Some(r)), Some(b)) => {
                    let d = r - b;
                    (d.abs() <= tolerance, Some(d), String::new())
                }
                (Some(_), _) => (false, None, "defined in only one of the two".to_string()),
            };
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
                note,
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
                    note: "not in the baseline (not gated)".into(),
                });
            }
        }
    }
    rows
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
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.task,
            r.metric,
            fmt(r.baseline),
            fmt(r.run),
            fmt(r.delta),
            tolerance,
            ci,
            status.trim_end()
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
}
