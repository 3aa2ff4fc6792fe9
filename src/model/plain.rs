//! A fast reader for the usual record: a JSON object of strings, numbers, literals and
//! (under keys we do not read) arrays and objects of them. It yields exactly what
//! serde_json's reading of [`RawAction`] yields for such a record (the same value
//! texts); anything else (a `\u` escape, an escaped key, a duplicate key, deep nesting,
//! anything that is not JSON) makes it give up, and the caller reads the record with serde_json, which
//! gives the fields or the error. So it decides nothing serde_json would decide
//! otherwise; it only saves serde's generic machinery on the records that need none.

use super::{Raw, RawAction};
use std::ops::Range;

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end of the string whose opening quote is at `i` (just past its closing quote)
/// and whether it holds an escape, when it holds no control character and only the
/// escapes `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r` and `\t` (a `\u` escape is left to
/// serde_json). A plain loop: the strings of a record are short.
fn string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        match *b.get(j)? {
            b'"' => return Some((j + 1, escaped)),
            b'\\' => {
                if !matches!(
                    b.get(j + 1)?,
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't'
                ) {
                    return None;
                }
                escaped = true;
                j += 2;
            }
            c if c < 0x20 => return None,
            _ => j += 1,
        }
    }
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// The end of the JSON number starting at `i`, when it follows JSON's grammar:
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let j = digits(b, i + 1);
        if j == i + 1 {
            return None;
        }
        i = j;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let j = digits(b, i);
        if j == i {
            return None;
        }
        i = j;
    }
    Some(i)
}

/// Nesting deeper than this is left to serde_json (whose own limit is 128).
const MAX_DEPTH: usize = 64;

/// The end of the value starting at `i`, when it is a string, a number, a literal, or
/// an array or object of such values (nested at most MAX_DEPTH deep).
fn value(b: &[u8], i: usize, depth: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string(b, i).map(|(end, _)| end),
        b'-' | b'0'..=b'9' => number(b, i),
        b'[' if depth < MAX_DEPTH => {
            let mut j = ws(b, i + 1);
            if b.get(j) == Some(&b']') {
                return Some(j + 1);
            }
            loop {
                j = ws(b, value(b, j, depth + 1)?);
                match b.get(j)? {
                    b',' => j = ws(b, j + 1),
                    b']' => return Some(j + 1),
                    _ => return None,
                }
            }
        }
        b'{' if depth < MAX_DEPTH => object(b, i, depth, &mut |_, _, _| true),
        c => {
            let word: &[u8] = match c {
                b't' => b"true",
                b'f' => b"false",
                b'n' => b"null",
                _ => return None,
            };
            b[i..].starts_with(word).then_some(i + word.len())
        }
    }
}

/// The end of the object starting at `i` (on its `{`), when its keys are strings and
/// its values are as [`value`] takes them; `member` is given each key's text range,
/// whether the key holds an escape, and its value's range, and stops the reading by
/// saying `false`.
fn object(
    b: &[u8],
    i: usize,
    depth: usize,
    member: &mut impl FnMut(Range<usize>, bool, Range<usize>) -> bool,
) -> Option<usize> {
    let mut j = ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(j + 1);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return None;
        }
        let (key_end, escaped) = string(b, j)?;
        let key = j + 1..key_end - 1;
        j = ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        let start = ws(b, j + 1);
        let end = value(b, start, depth + 1)?;
        if !member(key, escaped, start..end) {
            return None;
        }
        j = ws(b, end);
        match b.get(j)? {
            b',' => j = ws(b, j + 1),
            b'}' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// Reads `text` when it is one object of plain values and nothing else; `None`
/// otherwise (then serde_json decides).
pub(super) fn read(text: &str) -> Option<RawAction<'_>> {
    let (raw, end) = read_at(text, ws(text.as_bytes(), 0))?;
    (ws(text.as_bytes(), end) == text.len()).then_some(raw)
}

/// Reads the object of plain values that starts at byte `start` of `text` (on its
/// `{`): the record and the end of its text (just past its `}`); `None` when it is not
/// such an object (then the caller scans it and serde_json decides).
pub(super) fn read_at(text: &str, start: usize) -> Option<(RawAction<'_>, usize)> {
    let b = text.as_bytes();
    let mut raw = RawAction::default();
    if b.get(start) != Some(&b'{') {
        return None;
    }
    // serde_json matches a key after decoding its escapes, and refuses a duplicate.
    let end = object(b, start, 0, &mut |key, escaped, value| {
        !escaped && raw.set(&text[key], Raw(&text[value]))
    })?;
    Some((raw, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each record: the plain reader either gives up or gives exactly serde's fields.
    #[test]
    fn plain_reader_agrees_with_serde_or_gives_up() {
        let cases = [
            (
                r#"{"id":1,"ticket_id":2,"note":"a b","timetaken":0.25,"actisbillable":true}"#,
                true,
            ),
            (
                r#" { "id" : 1 , "x" : null , "datetime" : "2026-01-01T00:00:00Z" } "#,
                true,
            ),
            (r#"{}"#, true),
            (r#"{"id":-0.5e+3,"ticket_id":10E2}"#, true),
            (r#"{"id":1,"note":"a\"b\\c\/d\n\t"}"#, true),
            (
                r#"{"id":1,"customfields":[{"id":1,"v":[true,null,"x",{}]}],"e":[]}"#,
                true,
            ),
            (r#"{"id":1,"note":{"a":1}}"#, true),
            (r#"{"id":1,"note":"a\u0041"}"#, false),
            (r#"{"id":1,"note":"a\x"}"#, false),
            (r#"{"id":1,"customfields":[1,]}"#, false),
            (r#"{"id":1,"customfields":{"a" 1}}"#, false),
            (r#"{"id":1,"customfields":[{"a":1]}"#, false),
            (r#"{"id":1,"id":2}"#, false),
            (r#"{"id":01}"#, false),
            (r#"{"id":1.}"#, false),
            (r#"{"id":1,}"#, false),
            (r#"{"id":NaN}"#, false),
            (r#"{"id":1} x"#, false),
            (r#"{"id":tru}"#, false),
            ("{\"note\":\"a\tb\"}", false),
            (r#"{"n\u006fte":"x"}"#, false),
        ];
        for (text, plain) in cases {
            let fast = read(text);
            assert_eq!(fast.is_some(), plain, "{text}");
            if let Some(fast) = fast {
                let slow: RawAction = serde_json::from_str(text).unwrap();
                assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{text}");
            }
        }
    }

    /// A record that serde_json reads, with one byte changed or a token inserted: when
    /// the plain reader accepts the result, serde_json reads it too, to the same fields.
    fn agrees_after(text: &str) -> Result<(), TestCaseError> {
        if let Some(fast) = read(text) {
            let slow = serde_json::from_str::<RawAction>(text);
            prop_assert!(slow.is_ok(), "plain took what serde refuses: {text}");
            prop_assert_eq!(
                format!("{fast:?}"),
                format!("{:?}", slow.unwrap()),
                "{}",
                text
            );
        }
        Ok(())
    }

    const BASE: &str = r#"{"id":1,"ticket_id":2,"note":"a \"q\" \n","datetime":"2026-01-01T00:00:00Z","timetaken":0.25,"customfields":[{"id":1,"v":[true,null,-1.5e3]}],"actisbillable":false}"#;

    proptest! {
        #[test]
        fn plain_reader_never_takes_what_serde_reads_otherwise(
            at in 0..BASE.len(),
            byte in proptest::sample::select(b"\"{}[],:0123456789-+.eE \\/ntufalsrbx\t\x01".to_vec()),
            insert in any::<bool>(),
        ) {
            let mut b = BASE.as_bytes().to_vec();
            if insert { b.insert(at, byte) } else { b[at] = byte }
            if let Ok(text) = std::str::from_utf8(&b) {
                agrees_after(text)?;
            }
        }
    }
}
