//! Spreadsheet safety for text cells (CSV/formula injection).
//!
//! Excel and LibreOffice run a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return as a formula. Contract references and invoice numbers come from end users, so
//! every text cell we write to a CSV is neutralised with a leading `'`; numeric cells are
//! written as plain numbers and never altered.

/// Returns `text` safe to open in a spreadsheet.
pub fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

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
