//! What scoring one task produces, for every kind, and the one place metrics get their
//! bootstrap intervals.

use std::collections::BTreeMap;

use evalrun_core::bootstrap::{self, BootstrapSpec, Interval};
use evalrun_report::PredictionLine;

/// One task scored: metrics, intervals, sums, per-example lines, submission body.
#[derive(Debug, Clone, Default)]
pub struct Scored {
    /// Raw values; `None` where undefined (NaN).
    pub metrics: BTreeMap<String, Option<f64>>,
    pub ci: BTreeMap<String, Interval>,
    /// The sums the metrics are computed from (LM log-likelihoods, counts, BLEU lengths).
    pub sums: BTreeMap<String, f64>,
    pub lines: Vec<PredictionLine>,
    /// The test-server file body, for tasks that have one.
    pub submission: Option<String>,
    /// How outputs became predictions, in words.
    pub scoring: String,
    pub label_mapping: Option<String>,
    /// Tokens the model scored or generated, for tokens/s.
    pub tokens: Option<usize>,
    /// LM tasks: the window policy in words.
    pub windows: Option<String>,
}

/// A metric over drawn rows: (slot of the drawn unit, row index) pairs.
pub type Statistic<'f> = &'f dyn Fn(&[(u64, usize)]) -> f64;

/// Records metrics with their bootstrap intervals, resampling `units` (lists of row indices:
/// one row each, or a whole MultiRC question).
pub struct Recorder<'a> {
    pub metrics: &'a mut BTreeMap<String, Option<f64>>,
    pub ci: &'a mut BTreeMap<String, Interval>,
    pub units: &'a [Vec<usize>],
    pub spec: BootstrapSpec,
}

/// One unit per row.
pub fn single_units(rows: usize) -> Vec<Vec<usize>> {
    (0..rows).map(|r| vec![r]).collect()
}

impl Recorder<'_> {
    fn expand(&self, drawn: &[usize]) -> Vec<(u64, usize)> {
        drawn
            .iter()
            .enumerate()
            .flat_map(|(slot, &u)| self.units[u].iter().map(move |&r| (slot as u64, r)))
            .collect()
    }

    /// The metric over every unit, and its interval. `f` gets (slot of the drawn unit, row)
    /// pairs.
    pub fn grouped(&mut self, name: &str, f: Statistic<'_>) {
        let all: Vec<usize> = (0..self.units.len()).collect();
        let value = f(&self.expand(&all));
        self.metrics
            .insert(name.to_string(), Some(value).filter(|v| v.is_finite()));
        self.interval_grouped(name, f);
    }

    /// `f` gets row indices.
    pub fn rows(&mut self, name: &str, f: &dyn Fn(&[usize]) -> f64) {
        self.grouped(name, &|sel| f(&sel.iter().map(|s| s.1).collect::<Vec<_>>()));
    }

    /// Only the interval: for metrics whose point value is computed from running sums.
    pub fn interval(&mut self, name: &str, f: &dyn Fn(&[usize]) -> f64) {
        self.interval_grouped(name, &|sel| f(&sel.iter().map(|s| s.1).collect::<Vec<_>>()));
    }

    fn interval_grouped(&mut self, name: &str, f: Statistic<'_>) {
        if let Some(interval) =
            bootstrap::bootstrap(self.units.len(), self.spec, |idx| f(&self.expand(idx)))
        {
            self.ci.insert(name.to_string(), interval);
        }
    }
}
