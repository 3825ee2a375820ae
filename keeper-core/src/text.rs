//! Numbers to and from decimal text, by hand: `core::fmt` would add kilobytes to the wasm
//! package for what a dozen lines do. Public for the browser shell, which builds JSON the same
//! way.

use alloc::string::String;

/// The hexadecimal digits, each as a `&str` so that text is built from `&str` only: pushing a
/// `char` brings UTF-8 encoding into the package.
pub const HEX_DIGITS: [&str; 16] =
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"];

/// Appends `n` in decimal.
pub fn push_u64(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut count = 0;
    let mut rest = n;
    loop {
        digits[count % 20] = (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in digits.iter().take(count).rev() {
        out.push_str(HEX_DIGITS[usize::from(d & 15)]);
    }
}

/// `text` split at the first `separator` byte (an ASCII character): what comes before, and
/// what comes after if it was there. Byte-based, so no `char` searcher comes into the package.
pub fn cut(text: &str, separator: u8) -> (&str, Option<&str>) {
    match text.bytes().position(|b| b == separator) {
        Some(at) => (text.get(..at).unwrap_or(""), text.get(at + 1..)),
        None => (text, None),
    }
}

/// Reads a decimal `u64`: ASCII digits only, no sign, no overflow.
pub fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        if b.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None }
    })
}

/// Where `needle` first occurs in `haystack`, by bytes: `str::find` with a string pattern
/// brings a searcher, and its panic paths bring `char`'s `Debug` and Unicode tables.
pub fn find(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return Some(0);
    }
    haystack.as_bytes().windows(needle.len()).position(|w| w == needle)
}

/// `parts` joined, for messages built without `format!`.
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn numbers_round_trip() {
        for n in [0, 7, 10, 1_795_342_830_123, u64::MAX] {
            let mut text = String::new();
            push_u64(&mut text, n);
            assert_eq!(text, n.to_string());
            assert_eq!(parse_u64(&text), Some(n));
        }
        for bad in ["", "-1", "1.5", " 1", "18446744073709551616", "١"] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
        assert_eq!(concat(&["a", "", "bc"]), "abc");
        assert_eq!(find("a://b", "://"), Some(1));
        assert_eq!(find("ab", "abc"), None);
        assert_eq!(find("ab", ""), Some(0));
        assert_eq!(cut("a,b,c", b','), ("a", Some("b,c")));
        assert_eq!(cut("é,", b','), ("é", Some("")));
        assert_eq!(cut("abc", b','), ("abc", None));
    }
}
