//! Text-generation metrics with exact parity with the Python references used by T5:
//!
//! * [`bleu`]: sacreBLEU 2.x corpus BLEU (`sacrebleu.metrics.bleu.BLEU`), tokenizers `intl`,
//!   `13a` and `none`, all four smoothing methods, multiple references;
//! * [`rouge`]: Google's `rouge_score` (`rouge_scorer.RougeScorer`) ROUGE-1/2/L/Lsum with
//!   T5's summary preparation (`t5.evaluation.metrics.rouge`);
//! * [`squad`]: the official SQuAD v1.1 evaluation script (`evaluate-v1.1.py`);
//! * [`pyfloat`]: Python 3's `float(str)` (T5 parses STS-B outputs with it).
//!
//! The references are Python programs, so "a character is whitespace", "a character is a word
//! character" and "lowercase this" must mean what they mean in Python. The helpers below pin
//! those down; `tests/text_metric_parity.rs` checks them against tables dumped from Python by
//! `scripts/text_metric_cases.py`.

use std::sync::LazyLock;

use regex::Regex;

pub mod bleu;
pub mod pyfloat;
pub mod rouge;
pub mod squad;

pub use bleu::{
    corpus_bleu, Bleu, BleuConfig, BleuError, BleuScore, BleuStats, BleuTokenizer, Smoothing,
};
pub use pyfloat::python_float;
pub use rouge::{RougeCorpus, RougeScore, RougeScores};
pub use squad::{SquadAccumulator, SquadError, SquadScore};

/// Python's `str.isspace()` for one character (CPython `Py_UNICODE_ISSPACE`): the Unicode
/// `White_Space` characters plus the ASCII information separators U+001C..U+001F, which Python
/// counts as whitespace (bidirectional class B/S) but Rust's [`char::is_whitespace`] does not.
///
/// This set has been stable across Unicode versions since Unicode 6.3.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` without arguments: splits on runs of [`is_python_space`] and drops
/// empty pieces (so leading/trailing whitespace produces nothing).
pub fn python_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_python_space).filter(|piece| !piece.is_empty())
}

/// `' '.join(s.split())` in Python: collapses whitespace runs to one ASCII space and trims.
pub fn python_collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, piece) in python_split(s).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(piece);
    }
    out
}

/// Python's `str.rstrip()` without arguments.
pub fn python_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_python_space)
}

/// Python's `str.lower()`.
///
/// Both Python and Rust apply the full Unicode lowercase mapping (`SpecialCasing.txt`
/// included, e.g. `'İ'` becomes `"i\u{307}"`) and the `Final_Sigma` rule, so this is
/// [`str::to_lowercase`]. The tables can differ only for characters whose case mapping is
/// newer than the older of the two Unicode versions (Python 3.11: Unicode 14.0).
pub fn python_lower(s: &str) -> String {
    s.to_lowercase()
}

/// Python `re`'s `\w` for `str` patterns (CPython `SRE_UNI_IS_WORD`: `ch.isalnum() or ch ==
/// '_'`). `str.isalnum()` is "general category L* or a numeric character", and for every
/// Unicode version so far the numeric characters are exactly the N* categories, so this is
/// `[\p{L}\p{N}_]`.
///
/// This deliberately differs from Rust regex's Unicode `\w`, which also counts combining marks
/// (M*), connector punctuation (Pc) and `Join_Control`: in Python, `"the\u{301}"` has a word
/// boundary after `the`.
pub fn is_python_word_char(c: char) -> bool {
    static WORD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[\p{L}\p{N}_]$").expect("constant regular expression compiles")
    });
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let mut buf = [0u8; 4];
    WORD.is_match(c.encode_utf8(&mut buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_whitespace_includes_information_separators() {
        assert!(is_python_space('\u{1c}'));
        assert!(is_python_space('\u{85}'));
        assert!(is_python_space('\u{3000}'));
        assert!(!is_python_space('\u{200b}'));
        assert_eq!(
            python_split(" a\u{1f}b\u{a0} c ").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(python_collapse_whitespace("\t a  b\n"), "a b");
        assert_eq!(python_rstrip("a b \u{2003}\n"), "a b");
    }

    #[test]
    fn python_word_characters() {
        for c in ['a', 'Z', '0', '_', 'é', '中', '½', 'Ⅻ', '٣'] {
            assert!(is_python_word_char(c), "{c:?}");
        }
        for c in [' ', '-', '\u{301}', '\u{203f}', 'Ⓐ', '€', '\u{200d}'] {
            assert!(!is_python_word_char(c), "{c:?}");
        }
    }

    #[test]
    fn python_lowercase_special_cases() {
        assert_eq!(python_lower("İ"), "i\u{307}");
        assert_eq!(python_lower("ΟΔΟΣ"), "οδος");
        assert_eq!(python_lower("\u{212a}"), "k");
    }
}
