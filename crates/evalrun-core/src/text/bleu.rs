//! Corpus BLEU with exact parity with sacreBLEU 2.x (`sacrebleu/metrics/bleu.py`, class
//! `BLEU`), e.g. T5's `corpus_bleu(predictions, [targets], smooth_method="exp",
//! tokenize="intl", lowercase=False, ...)`.
//!
//! The protocol, step by step (sacreBLEU function names in brackets):
//!
//! 1. Each segment, hypothesis and references alike, is optionally lowercased (Python
//!    `str.lower`), right-stripped of Python whitespace and tokenized
//!    (`BLEU._preprocess_segment`). Tokenizers: [`tokenize_intl`]
//!    (`tokenizers/tokenizer_intl.py`), [`tokenize_13a`] (`tokenizers/tokenizer_13a.py` +
//!    `tokenizer_re.py`) and `none` (identity).
//! 2. The tokenized string is split on Python whitespace; all n-grams of orders 1..=4 are
//!    counted (`helpers.extract_all_word_ngrams`). With several references, a reference n-gram
//!    count is the maximum over the references (`BLEU._extract_reference_info`).
//! 3. Per segment (`BLEU._compute_segment_statistics`): `totals[n]` = hypothesis n-grams,
//!    `counts[n]` = hypothesis n-grams clipped by the reference counts, `sys_len` = hypothesis
//!    tokens and `ref_len` = the reference length closest to `sys_len`, ties going to the
//!    shorter reference (`BLEU._get_closest_ref_len`). These are [`BleuStats`].
//! 4. The corpus statistics are the element-wise sums (`utils.sum_of_lists`), which is what
//!    makes bootstrap resampling over segments cheap: resample [`BleuStats`], sum, score.
//! 5. The score (`BLEU.compute_bleu`, see [`compute_bleu`]).

use std::collections::HashMap;
use std::iter::Sum;
use std::ops::{Add, AddAssign};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{python_lower, python_rstrip, python_split};

/// The maximum n-gram order (sacreBLEU's `MAX_NGRAM_ORDER`).
pub const MAX_NGRAM_ORDER: usize = 4;

/// `utils.my_log(0)`: the "log" of a zero precision.
const LOG_ZERO: f64 = -9_999_999_999.0;

/// Which sacreBLEU tokenizer to apply to every segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BleuTokenizer {
    /// `tokenize="intl"`: `TokenizerV14International` (mteval-v14 international tokenization).
    Intl,
    /// `tokenize="13a"`: `Tokenizer13a`, sacreBLEU's default (mteval-v13a).
    #[default]
    V13a,
    /// `tokenize="none"`: no tokenization (only the right strip of step 1).
    None,
}

impl BleuTokenizer {
    /// The tokenizer's sacreBLEU name (`"intl"`, `"13a"`, `"none"`).
    pub fn name(self) -> &'static str {
        match self {
            BleuTokenizer::Intl => "intl",
            BleuTokenizer::V13a => "13a",
            BleuTokenizer::None => "none",
        }
    }

    /// Looks a tokenizer up by its sacreBLEU name.
    pub fn from_name(name: &str) -> Result<Self, BleuError> {
        match name {
            "intl" => Ok(BleuTokenizer::Intl),
            "13a" => Ok(BleuTokenizer::V13a),
            "none" => Ok(BleuTokenizer::None),
            other => Err(BleuError::UnknownTokenizer(other.to_owned())),
        }
    }

    /// Applies the tokenizer to one (already right-stripped) segment.
    pub fn apply(self, line: &str) -> String {
        match self {
            BleuTokenizer::Intl => tokenize_intl(line),
            BleuTokenizer::V13a => tokenize_13a(line),
            BleuTokenizer::None => line.to_owned(),
        }
    }
}

/// sacreBLEU's smoothing methods (`BLEU.SMOOTH_DEFAULTS`), from Chen & Cherry (2014).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Smoothing {
    /// `"none"`: a zero precision contributes `log 0 = -9999999999`.
    None,
    /// `"floor"`: a zero precision becomes `100 * value / total` (sacreBLEU default 0.1).
    Floor(f64),
    /// `"add-k"`: for orders n >= 2, `value` is added to both the count and the total
    /// (sacreBLEU default 1).
    AddK(f64),
    /// `"exp"`: the NIST/mteval-v13a scheme: the k-th zero precision becomes
    /// `100 / (2^k * total)`. sacreBLEU's and T5's default.
    #[default]
    Exp,
}

impl Smoothing {
    /// Builds a smoothing method from sacreBLEU's `smooth_method` / `smooth_value` arguments;
    /// `None` as the value takes sacreBLEU's default (floor 0.1, add-k 1).
    pub fn from_name(method: &str, value: Option<f64>) -> Result<Self, BleuError> {
        match method {
            "none" => Ok(Smoothing::None),
            "floor" => Ok(Smoothing::Floor(value.unwrap_or(0.1))),
            "add-k" => Ok(Smoothing::AddK(value.unwrap_or(1.0))),
            "exp" => Ok(Smoothing::Exp),
            other => Err(BleuError::UnknownSmoothing(other.to_owned())),
        }
    }
}

/// The arguments of sacreBLEU's `BLEU(...)` that this implementation supports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BleuConfig {
    /// `tokenize=`.
    pub tokenizer: BleuTokenizer,
    /// `smooth_method=` / `smooth_value=`.
    pub smoothing: Smoothing,
    /// `lowercase=`.
    pub lowercase: bool,
    /// `effective_order=` (`use_effective_order=` in `corpus_bleu`): average only over the
    /// orders that have at least one hypothesis n-gram.
    pub effective_order: bool,
}

impl BleuConfig {
    /// T5's configuration (`t5.evaluation.metrics.bleu`): `tokenize="intl"`,
    /// `smooth_method="exp"`, `lowercase=False`, no effective order.
    pub fn t5() -> Self {
        BleuConfig {
            tokenizer: BleuTokenizer::Intl,
            smoothing: Smoothing::Exp,
            lowercase: false,
            effective_order: false,
        }
    }
}

/// Errors of the BLEU entry points.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BleuError {
    /// A segment has no reference (sacreBLEU would fail on it).
    #[error("segment {segment} has no reference")]
    NoReference {
        /// Index of the segment.
        segment: usize,
    },
    /// No reference stream was given.
    #[error("no reference streams")]
    NoReferenceStreams,
    /// A reference stream's length differs from the number of hypotheses (sacreBLEU would
    /// silently truncate to the shorter one).
    #[error("reference stream {stream} has {got} segments, expected {expected}")]
    StreamLength {
        /// Index of the stream.
        stream: usize,
        /// Its length.
        got: usize,
        /// The number of hypotheses.
        expected: usize,
    },
    /// The corpus has no segment (sacreBLEU raises on it).
    #[error("empty corpus")]
    EmptyCorpus,
    /// Unknown tokenizer name.
    #[error("unknown BLEU tokenizer {0:?} (supported: intl, 13a, none)")]
    UnknownTokenizer(String),
    /// Unknown smoothing method name.
    #[error("unknown BLEU smoothing method {0:?} (supported: none, floor, add-k, exp)")]
    UnknownSmoothing(String),
}

/// BLEU's sufficient statistics for one segment or (summed) for a corpus: sacreBLEU's flat
/// list `[sys_len, ref_len, counts..., totals...]`.
///
/// Statistics add element-wise ([`Add`], [`AddAssign`], [`Sum`], [`BleuStats::merge`]), so the
/// corpus score of any multiset of segments (e.g. a bootstrap resample) is
/// `compute_bleu(&resample.iter().copied().sum(), ...)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BleuStats {
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Closest reference length in tokens.
    pub ref_len: u64,
    /// Clipped n-gram matches, orders 1..=4.
    pub counts: [u64; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams, orders 1..=4.
    pub totals: [u64; MAX_NGRAM_ORDER],
}

impl BleuStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &BleuStats) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_NGRAM_ORDER {
            self.counts[n] += other.counts[n];
            self.totals[n] += other.totals[n];
        }
    }

    /// sacreBLEU's flat layout `[sys_len, ref_len, c1..c4, t1..t4]`.
    pub fn to_vec(&self) -> Vec<u64> {
        let mut out = vec![self.sys_len, self.ref_len];
        out.extend_from_slice(&self.counts);
        out.extend_from_slice(&self.totals);
        out
    }
}

impl AddAssign<&BleuStats> for BleuStats {
    fn add_assign(&mut self, other: &BleuStats) {
        self.merge(other);
    }
}

impl AddAssign for BleuStats {
    fn add_assign(&mut self, other: BleuStats) {
        self.merge(&other);
    }
}

impl Add for BleuStats {
    type Output = BleuStats;
    fn add(mut self, other: BleuStats) -> BleuStats {
        self.merge(&other);
        self
    }
}

impl Sum for BleuStats {
    fn sum<I: Iterator<Item = BleuStats>>(iter: I) -> BleuStats {
        iter.fold(BleuStats::default(), Add::add)
    }
}

impl<'a> Sum<&'a BleuStats> for BleuStats {
    fn sum<I: Iterator<Item = &'a BleuStats>>(iter: I) -> BleuStats {
        iter.fold(BleuStats::default(), |mut acc, s| {
            acc.merge(s);
            acc
        })
    }
}

/// A BLEU score with its breakdown: sacreBLEU's `BLEUScore`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BleuScore {
    /// BLEU on sacreBLEU's 0..100 scale.
    pub score: f64,
    /// Clipped n-gram matches. With [`Smoothing::AddK`] sacreBLEU reports `count + k` (and
    /// `total + k`) for orders >= 2 unless nothing matched; these are always the raw counts.
    pub counts: [u64; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams (raw, as `counts`).
    pub totals: [u64; MAX_NGRAM_ORDER],
    /// Smoothed n-gram precisions on the 0..100 scale.
    pub precisions: [f64; MAX_NGRAM_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Reference length in tokens.
    pub ref_len: u64,
}

/// The score from summed statistics: sacreBLEU's `BLEU.compute_bleu`, operation for
/// operation so that the floating-point result is bit-identical:
///
/// * `bp = 1` if `sys_len >= ref_len`, else `exp(1 - ref_len / sys_len)` (0 if `sys_len == 0`);
/// * if no n-gram of any order matches, the score is 0 with all precisions 0 (sacreBLEU #141);
/// * for each order n (stopping at the first with `total == 0`): the precision is
///   `100 * count / total`, or, when `count == 0`, smoothed as described on [`Smoothing`];
/// * `score = bp * exp(sum(my_log(p) for p in precisions[:eff_order]) / eff_order)` with
///   `my_log(0) = -9999999999`, summed left to right (CPython 3.11's `sum`).
pub fn compute_bleu(stats: &BleuStats, smoothing: Smoothing, effective_order: bool) -> BleuScore {
    let (sys_len, ref_len) = (stats.sys_len, stats.ref_len);
    let mut bp = 1.0;
    if sys_len < ref_len {
        bp = if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        };
    }
    let mut precisions = [0.0; MAX_NGRAM_ORDER];
    let result = |score: f64, precisions: [f64; MAX_NGRAM_ORDER]| BleuScore {
        score,
        counts: stats.counts,
        totals: stats.totals,
        precisions,
        bp,
        sys_len,
        ref_len,
    };
    if stats.counts.iter().all(|&c| c == 0) {
        return result(0.0, precisions);
    }

    let mut smooth_mteval = 1.0;
    let mut eff_order = MAX_NGRAM_ORDER;
    for (n, precision) in precisions.iter_mut().enumerate() {
        let (mut correct, mut total) = (stats.counts[n] as f64, stats.totals[n] as f64);
        if let Smoothing::AddK(k) = smoothing {
            if n > 0 {
                correct += k;
                total += k;
            }
        }
        if total == 0.0 {
            break;
        }
        if effective_order {
            eff_order = n + 1;
        }
        if correct == 0.0 {
            match smoothing {
                Smoothing::Exp => {
                    smooth_mteval *= 2.0;
                    *precision = 100.0 / (smooth_mteval * total);
                }
                Smoothing::Floor(value) => *precision = 100.0 * value / total,
                Smoothing::None | Smoothing::AddK(_) => {}
            }
        } else {
            *precision = 100.0 * correct / total;
        }
    }

    let log_sum = precisions[..eff_order]
        .iter()
        .map(|&p| if p == 0.0 { LOG_ZERO } else { p.ln() })
        .fold(0.0, |acc, x| acc + x);
    let score = bp * (log_sum / eff_order as f64).exp();
    result(score, precisions)
}

static INTL_PUNCT_AFTER_NON_DIGIT: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"(\P{N})(\p{P})"));
static INTL_PUNCT_BEFORE_NON_DIGIT: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"(\p{P})(\P{N})"));
static INTL_SYMBOL: LazyLock<Regex> = LazyLock::new(|| constant_regex(r"(\p{S})"));

static RE13A_SYMBOLS: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40/])"));
static RE13A_PERIOD_COMMA_AFTER_NON_DIGIT: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"([^0-9])([\.,])"));
static RE13A_PERIOD_COMMA_BEFORE_NON_DIGIT: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"([\.,])([^0-9])"));
static RE13A_DASH_AFTER_DIGIT: LazyLock<Regex> = LazyLock::new(|| constant_regex(r"([0-9])(-)"));

fn constant_regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant regular expression compiles")
}

/// sacreBLEU's `TokenizerV14International` (`tokenizers/tokenizer_intl.py`), mteval-v14's
/// international tokenization:
///
/// 1. `(\P{N})(\p{P})` → `"\1 \2 "`: split punctuation preceded by a non-digit;
/// 2. `(\p{P})(\P{N})` → `" \1 \2"`: split punctuation followed by a non-digit;
/// 3. `(\p{S})` → `" \1 "`: split symbols;
/// 4. `' '.join(line.split())` with Python's whitespace.
///
/// So "3.14" and "1,000" stay whole, and, as in mteval-v14, a number followed by a final
/// period keeps the period ("1984." is one token).
///
/// The Unicode classes come from Rust's `regex` crate (Unicode 16.0) whereas sacreBLEU uses the
/// Python `regex` module (its own, newer Unicode tables); they can disagree only on characters
/// assigned after Unicode 16.0.
pub fn tokenize_intl(line: &str) -> String {
    let line = INTL_PUNCT_AFTER_NON_DIGIT.replace_all(line, "${1} ${2} ");
    let line = INTL_PUNCT_BEFORE_NON_DIGIT.replace_all(&line, " ${1} ${2}");
    let line = INTL_SYMBOL.replace_all(&line, " ${1} ");
    super::python_collapse_whitespace(&line)
}

/// sacreBLEU's `Tokenizer13a` (`tokenizers/tokenizer_13a.py`, then `TokenizerRegexp` in
/// `tokenizer_re.py`), mteval-v13a's tokenization:
///
/// 1. remove `<skipped>` and `-\n`, turn `\n` into a space; if the line contains `&`, unescape
///    `&quot;`, `&amp;`, `&lt;`, `&gt;` (in that order);
/// 2. pad with one space on both sides, then apply (Python `re`, ASCII classes):
///    `([\{-\~\[-\` -\&\(-\+\:-\@\/])` → `" \1 "`, `([^0-9])([\.,])` → `"\1 \2 "`,
///    `([\.,])([^0-9])` → `" \1 \2"`, `([0-9])(-)` → `"\1 \2 "`;
/// 3. `' '.join(line.split())` with Python's whitespace.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let line = format!(" {line} ");
    let line = RE13A_SYMBOLS.replace_all(&line, " ${1} ");
    let line = RE13A_PERIOD_COMMA_AFTER_NON_DIGIT.replace_all(&line, "${1} ${2} ");
    let line = RE13A_PERIOD_COMMA_BEFORE_NON_DIGIT.replace_all(&line, " ${1} ${2}");
    let line = RE13A_DASH_AFTER_DIGIT.replace_all(&line, "${1} ${2} ");
    super::python_collapse_whitespace(&line)
}

/// N-gram counts of one tokenized segment, keyed by token slices.
type NgramCounts<'a> = HashMap<&'a [&'a str], u64>;

/// `helpers.extract_all_word_ngrams(line, 1, 4)` on an already split segment.
fn ngram_counts<'a>(tokens: &'a [&'a str]) -> NgramCounts<'a> {
    let mut counts = NgramCounts::new();
    for n in 1..=MAX_NGRAM_ORDER {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// `BLEU._get_closest_ref_len`: the reference length closest to `hyp_len`, ties going to the
/// shorter reference. `ref_lens` must not be empty.
fn closest_ref_len(hyp_len: u64, ref_lens: &[u64]) -> u64 {
    let mut best: Option<(u64, u64)> = None; // (diff, len)
    for &len in ref_lens {
        let diff = hyp_len.abs_diff(len);
        best = match best {
            Some((best_diff, best_len))
                if diff > best_diff || (diff == best_diff && len >= best_len) =>
            {
                Some((best_diff, best_len))
            }
            _ => Some((diff, len)),
        };
    }
    best.map_or(0, |(_, len)| len)
}

/// A configured sacreBLEU `BLEU` metric.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bleu {
    config: BleuConfig,
}

impl Bleu {
    /// A metric with the given configuration.
    pub fn new(config: BleuConfig) -> Self {
        Bleu { config }
    }

    /// The configuration.
    pub fn config(&self) -> &BleuConfig {
        &self.config
    }

    /// `BLEU._preprocess_segment`: optional lowercase, Python `rstrip()`, tokenizer.
    pub fn preprocess(&self, segment: &str) -> String {
        if self.config.lowercase {
            let lowered = python_lower(segment);
            self.config.tokenizer.apply(python_rstrip(&lowered))
        } else {
            self.config.tokenizer.apply(python_rstrip(segment))
        }
    }

    /// The statistics of one segment against its references (one or more; their order does not
    /// matter): `BLEU._extract_reference_info` followed by `BLEU._compute_segment_statistics`.
    pub fn segment_stats<R: AsRef<str>>(
        &self,
        hypothesis: &str,
        references: &[R],
    ) -> Result<BleuStats, BleuError> {
        if references.is_empty() {
            return Err(BleuError::NoReference { segment: 0 });
        }
        let refs: Vec<String> = references
            .iter()
            .map(|r| self.preprocess(r.as_ref()))
            .collect();
        let ref_tokens: Vec<Vec<&str>> = refs.iter().map(|r| python_split(r).collect()).collect();
        let mut ref_ngrams = NgramCounts::new();
        let mut ref_lens = Vec::with_capacity(ref_tokens.len());
        for tokens in &ref_tokens {
            ref_lens.push(tokens.len() as u64);
            for (gram, count) in ngram_counts(tokens) {
                let slot = ref_ngrams.entry(gram).or_insert(0);
                *slot = (*slot).max(count);
            }
        }

        let hyp = self.preprocess(hypothesis);
        let hyp_tokens: Vec<&str> = python_split(&hyp).collect();
        let sys_len = hyp_tokens.len() as u64;
        let mut stats = BleuStats {
            sys_len,
            ref_len: closest_ref_len(sys_len, &ref_lens),
            ..BleuStats::default()
        };
        for (gram, count) in ngram_counts(&hyp_tokens) {
            let n = gram.len() - 1;
            stats.totals[n] += count;
            if let Some(&ref_count) = ref_ngrams.get(gram) {
                stats.counts[n] += count.min(ref_count);
            }
        }
        Ok(stats)
    }

    /// Per-segment statistics for a corpus given as `(hypothesis, references)` pairs; the
    /// number of references may vary between segments (sacreBLEU's `None` padding).
    pub fn corpus_stats<'a, I, R>(&self, segments: I) -> Result<Vec<BleuStats>, BleuError>
    where
        I: IntoIterator<Item = (&'a str, &'a [R])>,
        R: AsRef<str> + 'a,
    {
        segments
            .into_iter()
            .enumerate()
            .map(|(i, (hyp, refs))| {
                self.segment_stats(hyp, refs)
                    .map_err(|_| BleuError::NoReference { segment: i })
            })
            .collect()
    }

    /// Per-segment statistics in sacreBLEU's layout: `hypotheses[i]` is scored against
    /// `ref_streams[k][i]` for every stream k (`BLEU._extract_corpus_statistics`).
    pub fn stream_stats<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hypotheses: &[H],
        ref_streams: &[Vec<R>],
    ) -> Result<Vec<BleuStats>, BleuError> {
        if ref_streams.is_empty() {
            return Err(BleuError::NoReferenceStreams);
        }
        for (stream, refs) in ref_streams.iter().enumerate() {
            if refs.len() != hypotheses.len() {
                return Err(BleuError::StreamLength {
                    stream,
                    got: refs.len(),
                    expected: hypotheses.len(),
                });
            }
        }
        hypotheses
            .iter()
            .enumerate()
            .map(|(i, hyp)| {
                let refs: Vec<&str> = ref_streams.iter().map(|s| s[i].as_ref()).collect();
                self.segment_stats(hyp.as_ref(), &refs)
            })
            .collect()
    }

    /// The score of already summed statistics ([`compute_bleu`] with this configuration).
    pub fn score_stats(&self, stats: &BleuStats) -> BleuScore {
        compute_bleu(stats, self.config.smoothing, self.config.effective_order)
    }

    /// Corpus BLEU of per-segment statistics (sum, then score). Fails on an empty corpus, as
    /// sacreBLEU does.
    pub fn score_segments(&self, stats: &[BleuStats]) -> Result<BleuScore, BleuError> {
        if stats.is_empty() {
            return Err(BleuError::EmptyCorpus);
        }
        Ok(self.score_stats(&stats.iter().sum()))
    }

    /// `BLEU.corpus_score(hypotheses, ref_streams)`.
    pub fn corpus_score<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hypotheses: &[H],
        ref_streams: &[Vec<R>],
    ) -> Result<BleuScore, BleuError> {
        self.score_segments(&self.stream_stats(hypotheses, ref_streams)?)
    }
}

/// `sacrebleu.corpus_bleu(hypotheses, ref_streams, ...)` with the given configuration; use
/// [`BleuConfig::t5`] for T5's settings.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    ref_streams: &[Vec<R>],
    config: BleuConfig,
) -> Result<BleuScore, BleuError> {
    Bleu::new(config).corpus_score(hypotheses, ref_streams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intl_tokenizer_examples() {
        assert_eq!(
            tokenize_intl("It costs 3.14 euros, or 1,000 cents."),
            "It costs 3.14 euros , or 1,000 cents ."
        );
        assert_eq!(tokenize_intl("The year was 1984."), "The year was 1984.");
        assert_eq!(tokenize_intl("«Bonjour», €5"), "« Bonjour » , € 5");
        assert_eq!(tokenize_intl("  a  b  "), "a b");
    }

    #[test]
    fn tokenizer_13a_examples() {
        assert_eq!(tokenize_13a("Hello, world!"), "Hello , world !");
        assert_eq!(tokenize_13a("x&amp;y 1999-2000"), "x & y 1999 - 2000");
        assert_eq!(tokenize_13a("3.14 and 1,000."), "3.14 and 1,000 .");
    }

    #[test]
    fn closest_reference_length_prefers_shorter_on_ties() {
        assert_eq!(closest_ref_len(5, &[3, 7]), 3);
        assert_eq!(closest_ref_len(5, &[7, 3]), 3);
        assert_eq!(closest_ref_len(2, &[6, 2, 1]), 2);
    }

    #[test]
    fn identical_segment_scores_100() {
        let bleu = Bleu::new(BleuConfig::t5());
        let score = bleu
            .corpus_score(
                &["the cat sat on the mat"],
                &[vec!["the cat sat on the mat"]],
            )
            .expect("valid corpus");
        assert!((score.score - 100.0).abs() < 1e-12);
        assert_eq!(score.counts, [6, 5, 4, 3]);
        assert_eq!(score.bp, 1.0);
    }

    #[test]
    fn no_match_scores_zero_and_empty_hypothesis_has_zero_bp() {
        let bleu = Bleu::new(BleuConfig::t5());
        let score = bleu
            .corpus_score(&[""], &[vec!["a b c"]])
            .expect("valid corpus");
        assert_eq!(score.score, 0.0);
        assert_eq!(score.bp, 0.0);
        assert_eq!(score.ref_len, 3);
    }

    #[test]
    fn exp_smoothing_halves_successive_zero_precisions() {
        let stats = BleuStats {
            sys_len: 6,
            ref_len: 6,
            counts: [4, 0, 0, 0],
            totals: [6, 5, 4, 3],
        };
        let score = compute_bleu(&stats, Smoothing::Exp, false);
        assert_eq!(
            score.precisions,
            [100.0 * 4.0 / 6.0, 100.0 / 10.0, 100.0 / 16.0, 100.0 / 24.0]
        );
    }

    #[test]
    fn errors() {
        let bleu = Bleu::default();
        let none: [&str; 0] = [];
        assert_eq!(
            bleu.segment_stats("a", &none),
            Err(BleuError::NoReference { segment: 0 })
        );
        assert_eq!(
            bleu.corpus_score(&["a", "b"], &[vec!["a"]]),
            Err(BleuError::StreamLength {
                stream: 0,
                got: 1,
                expected: 2
            })
        );
        let empty: [&str; 0] = [];
        let no_streams: [Vec<&str>; 0] = [];
        assert_eq!(
            bleu.corpus_score(&empty, &[Vec::<&str>::new()]),
            Err(BleuError::EmptyCorpus)
        );
        assert_eq!(
            bleu.corpus_score(&["a"], &no_streams),
            Err(BleuError::NoReferenceStreams)
        );
        assert!(BleuTokenizer::from_name("zh").is_err());
        assert!(Smoothing::from_name("bogus", None).is_err());
    }

    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "the", "cat", "sat", "on", "mat", "a", "3.14", "1,000", "«", "€", "—", "!", "中文",
            "😀", "x-y", "(", "it's", ".", ",",
        ])
    }

    fn sentence(min: usize, max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(word(), min..max).prop_map(|w| w.join(" "))
    }

    proptest! {
        #[test]
        fn corpus_against_itself_scores_100(
            corpus in prop::collection::vec(prop::collection::vec("[a-z]{1,6}", 4..12), 1..8)
        ) {
            let sentences: Vec<String> = corpus.iter().map(|s| s.join(" ")).collect();
            for config in [BleuConfig::t5(), BleuConfig::default()] {
                let score = corpus_bleu(&sentences, std::slice::from_ref(&sentences), config)
                    .expect("valid corpus");
                prop_assert!((score.score - 100.0).abs() < 1e-9, "{}", score.score);
                prop_assert_eq!(score.counts, score.totals);
            }
        }

        #[test]
        fn merging_stats_split_anywhere_equals_the_whole(
            pairs in prop::collection::vec((sentence(0, 12), sentence(1, 12)), 1..10),
            split in 0usize..10,
        ) {
            let bleu = Bleu::new(BleuConfig::t5());
            let stats: Vec<BleuStats> = pairs
                .iter()
                .map(|(h, r)| bleu.segment_stats(h, &[r]).expect("reference"))
                .collect();
            let split = split.min(stats.len());
            let mut left: BleuStats = stats[..split].iter().sum();
            let right: BleuStats = stats[split..].iter().sum();
            left.merge(&right);
            let whole: BleuStats = stats.iter().sum();
            prop_assert_eq!(left, whole);
            prop_assert_eq!(bleu.score_stats(&left), bleu.score_segments(&stats).expect("non-empty"));
            let score = bleu.score_stats(&whole);
            prop_assert!((0.0..=100.0 + 1e-9).contains(&score.score));
        }
    }
}
