//! Python 3's `float(str)`, exactly: which strings it accepts and the value it returns.
//!
//! T5 scores STS-B by parsing the generated text with `float(string)` and falling back to -1.0
//! when that raises (`t5.data.postprocessors.string_to_float`), so the set of accepted strings
//! is part of the metric.
//!
//! CPython 3.11 (`Objects/floatobject.c`, `PyFloat_FromString`) does, in order:
//!
//! 1. `_PyUnicode_TransformDecimalAndSpaceToASCII`: every character below U+007F is kept;
//!    every other whitespace character (`str.isspace()`) becomes `' '`; every other decimal
//!    digit (general category Nd, e.g. `'١'`, `'１'`) becomes the ASCII digit of the same
//!    value; anything else makes the conversion fail.
//! 2. `_Py_string_to_number_with_underscores`: if the text contains `'_'`, each underscore must
//!    sit between two ASCII digits; the underscores are then removed. Embedded NULs fail.
//! 3. `float_from_string_inner`: leading and trailing ASCII whitespace (`" \t\n\v\f\r"`) is
//!    stripped; an empty remainder fails.
//! 4. `PyOS_string_to_double`: the remainder must be, in full, an optional sign followed by
//!    either `inf`, `infinity` or `nan` (ASCII, any case) or a decimal literal
//!    `digits [. [digits]] | . digits` with an optional exponent `[eE] [sign] digits`. The value
//!    is correctly rounded; overflow gives ±inf and underflow ±0 (no error).

/// The Nd ranges of Python 3.11's Unicode database (14.0.0). Each range is a run of consecutive
/// decimal digits starting at 0, so a digit's value is `(c - start) % 10`.
const PYTHON_DECIMAL_RANGES: &[(u32, u32)] = &[
    (0x0030, 0x0039),
    (0x0660, 0x0669),
    (0x06F0, 0x06F9),
    (0x07C0, 0x07C9),
    (0x0966, 0x096F),
    (0x09E6, 0x09EF),
    (0x0A66, 0x0A6F),
    (0x0AE6, 0x0AEF),
    (0x0B66, 0x0B6F),
    (0x0BE6, 0x0BEF),
    (0x0C66, 0x0C6F),
    (0x0CE6, 0x0CEF),
    (0x0D66, 0x0D6F),
    (0x0DE6, 0x0DEF),
    (0x0E50, 0x0E59),
    (0x0ED0, 0x0ED9),
    (0x0F20, 0x0F29),
    (0x1040, 0x1049),
    (0x1090, 0x1099),
    (0x17E0, 0x17E9),
    (0x1810, 0x1819),
    (0x1946, 0x194F),
    (0x19D0, 0x19D9),
    (0x1A80, 0x1A89),
    (0x1A90, 0x1A99),
    (0x1B50, 0x1B59),
    (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49),
    (0x1C50, 0x1C59),
    (0xA620, 0xA629),
    (0xA8D0, 0xA8D9),
    (0xA900, 0xA909),
    (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59),
    (0xABF0, 0xABF9),
    (0xFF10, 0xFF19),
    (0x104A0, 0x104A9),
    (0x10D30, 0x10D39),
    (0x11066, 0x1106F),
    (0x110F0, 0x110F9),
    (0x11136, 0x1113F),
    (0x111D0, 0x111D9),
    (0x112F0, 0x112F9),
    (0x11450, 0x11459),
    (0x114D0, 0x114D9),
    (0x11650, 0x11659),
    (0x116C0, 0x116C9),
    (0x11730, 0x11739),
    (0x118E0, 0x118E9),
    (0x11950, 0x11959),
    (0x11C50, 0x11C59),
    (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9),
    (0x16A60, 0x16A69),
    (0x16AC0, 0x16AC9),
    (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9),
    (0x1E950, 0x1E959),
    (0x1FBF0, 0x1FBF9),
];

/// Python's `unicodedata.decimal(c)` (Unicode 14.0.0), or `None`.
fn python_decimal(c: char) -> Option<u8> {
    let cp = u32::from(c);
    let idx = PYTHON_DECIMAL_RANGES.partition_point(|&(_, end)| end < cp);
    let &(start, end) = PYTHON_DECIMAL_RANGES.get(idx)?;
    // The remainder is below 10, so the narrowing cast cannot truncate.
    (start..=end)
        .contains(&cp)
        .then(|| ((cp - start) % 10) as u8)
}

/// Step 1: map the text to ASCII the way CPython does, or `None` if a character is neither
/// ASCII (below U+007F), whitespace nor a decimal digit.
fn to_ascii(s: &str) -> Option<Vec<u8>> {
    s.chars()
        .map(|c| {
            if u32::from(c) < 0x7F {
                // Lossless: the code point is below 0x7F.
                Some(c as u8)
            } else if super::is_python_space(c) {
                Some(b' ')
            } else {
                python_decimal(c).map(|d| b'0' + d)
            }
        })
        .collect()
}

/// Step 2: validate and remove underscores (they must sit between two ASCII digits).
fn remove_underscores(bytes: Vec<u8>) -> Option<Vec<u8>> {
    if bytes.contains(&0) {
        return None;
    }
    if !bytes.contains(&b'_') {
        return Some(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut prev = 0u8;
    for &b in &bytes {
        if b == b'_' {
            if !prev.is_ascii_digit() {
                return None;
            }
        } else {
            if prev == b'_' && !b.is_ascii_digit() {
                return None;
            }
            out.push(b);
        }
        prev = b;
    }
    (prev != b'_').then_some(out)
}

/// CPython's `Py_ISSPACE`: the ASCII whitespace of C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Length of the run of ASCII digits at the start of `b`.
fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Step 4 on the stripped ASCII text.
fn parse_number(b: &[u8]) -> Option<f64> {
    let (negative, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let special = if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        Some(f64::INFINITY)
    } else if body.eq_ignore_ascii_case(b"nan") {
        Some(f64::NAN)
    } else {
        None
    };
    if let Some(v) = special {
        return Some(if negative { -v } else { v });
    }

    // digits [. [digits]] | . digits, then [eE] [sign] digits.
    let int_len = digits(body);
    let mut pos = int_len;
    let mut frac_len = 0;
    if body.get(pos) == Some(&b'.') {
        pos += 1;
        frac_len = digits(&body[pos..]);
        pos += frac_len;
    }
    if int_len + frac_len == 0 {
        return None;
    }
    if matches!(body.get(pos), Some(b'e' | b'E')) {
        let mut exp = pos + 1;
        if matches!(body.get(exp), Some(b'+' | b'-')) {
            exp += 1;
        }
        let exp_len = digits(&body[exp..]);
        if exp_len == 0 {
            // "1e" / "1e+": the number ends before the 'e', which is then trailing garbage.
            return None;
        }
        pos = exp + exp_len;
    }
    if pos != body.len() {
        return None;
    }
    // The text is now ASCII and matches the decimal grammar above, which Rust's correctly
    // rounded parser accepts with the same meaning (overflow to inf, underflow to 0).
    let text = std::str::from_utf8(b).ok()?;
    text.parse::<f64>().ok()
}

/// Python 3's `float(s)` for a `str` argument: `Some(value)` where Python returns a float,
/// `None` where it raises `ValueError`. See the module documentation for the exact protocol.
///
/// ```
/// use evalrun_core::text::python_float;
/// assert_eq!(python_float(" 1_000.5 "), Some(1000.5));
/// assert_eq!(python_float("١٢٣"), Some(123.0));
/// assert_eq!(python_float("1__0"), None);
/// assert_eq!(python_float("0x10"), None);
/// ```
pub fn python_float(s: &str) -> Option<f64> {
    let bytes = remove_underscores(to_ascii(s)?)?;
    let start = bytes.iter().position(|&b| !is_c_space(b))?;
    let end = bytes.iter().rposition(|&b| !is_c_space(b))? + 1;
    parse_number(&bytes[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_python_accepts() {
        assert_eq!(python_float("1.5"), Some(1.5));
        assert_eq!(python_float(" -2.5e-3 "), Some(-2.5e-3));
        assert_eq!(python_float("1."), Some(1.0));
        assert_eq!(python_float(".5"), Some(0.5));
        assert_eq!(python_float("1.e5"), Some(1e5));
        assert_eq!(python_float("1_0e1_0"), Some(1e11));
        assert_eq!(python_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(python_float("1e400"), Some(f64::INFINITY));
        assert_eq!(python_float("\u{a0}1.5\u{2003}"), Some(1.5));
        assert_eq!(python_float("１.５"), Some(1.5));
        let nan = python_float("-nan").expect("-nan parses");
        assert!(nan.is_nan() && nan.is_sign_negative());
        let zero = python_float("-0").expect("-0 parses");
        assert!(zero == 0.0 && zero.is_sign_negative());
    }

    #[test]
    fn rejects_what_python_rejects() {
        for s in [
            "", " ", ".", "1.2.3", "1__0", "_1", "1_", "1_.5", "1._5", "0x10", "1e", "1e+", "e5",
            "infinit", "nan1", "1,000", "\u{1c}1", "1\u{0}", "²", "½", "一", "∞", "−1", "+-1",
        ] {
            assert_eq!(python_float(s), None, "{s:?}");
        }
    }

    #[test]
    fn decimal_table_lookup() {
        assert_eq!(python_decimal('7'), Some(7));
        assert_eq!(python_decimal('\u{1D7FF}'), Some(9));
        assert_eq!(python_decimal('\u{1D7CE}'), Some(0));
        assert_eq!(python_decimal('a'), None);
        assert_eq!(python_decimal('\u{10FFFF}'), None);
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_rust_formatting(x in any::<f64>(), pad in "[ \t\n]{0,2}") {
            let text = format!("{pad}{x:?}{pad}");
            let parsed = python_float(&text);
            if x.is_nan() {
                prop_assert!(parsed.is_some_and(f64::is_nan));
            } else {
                prop_assert_eq!(parsed.map(f64::to_bits), Some(x.to_bits()), "{}", text);
            }
            if x.is_finite() {
                let exp = format!("{x:e}");
                prop_assert_eq!(python_float(&exp).map(f64::to_bits), Some(x.to_bits()), "{}", exp);
            }
        }
    }
}
