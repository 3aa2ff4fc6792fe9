//! Spreadsheet safety for text cells (CSV/formula injection).
//!
//! Excel and LibreOffice run a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return as a formula. Contract references and invoice numbers come from end users, so
//! every text cell we write to a CSV is neutralised with a leading `'`; numeric cells are
//! written as plain numbers and never altered.

/// Whether `c` can take over a terminal or a reader's eye: C0 and C1 control characters
/// (ESC starts terminal commands, BEL rings, NUL ends strings) and the bidirectional
/// overrides and isolates (U+202A-U+202E, U+2066-U+2069) that reorder what is shown.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as it is shown on a terminal or a page: each control character (see
/// [`is_control`]) written as `\u{1b}`, so that text from Halo never controls the
/// terminal, whatever it holds. CSV and JSON keep text exact; tables, messages and pages
/// show it this way.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Returns `text` safe to open in a spreadsheet.
pub fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{cell, shown};

    #[test]
    fn control_characters_are_shown_escaped_and_other_text_untouched() {
        assert_eq!(shown("red\u{1b}[31m"), "red\\u{1b}[31m");
        assert_eq!(shown("a\u{7}b\u{0}c"), "a\\u{7}b\\u{0}c");
        assert_eq!(shown("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert_eq!(shown("Müller € Wartung"), "Müller € Wartung");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("\rx"), "'\rx");
        assert_eq!(cell("INV-1001"), "INV-1001");
        assert_eq!(cell(""), "");
    }
}
