//! A sheet as one JSON object, the same schema for every report (documented in
//! `reports/README.md`, checked by `tests/it/report_shape.rs`):
//!
//! ```text
//! {
//!   "report": "contracts", "title": "...",
//!   "period": {"label", "timezone", "from", "to"},
//!   "closed": false, "closes": [{"period", "timezone", "closed_at", "actions", "sha256"}],
//!   "coverage": {"complete": true, "gaps": [{"from", "to"}], "text": "..."},
//!   "undated_actions_in_store": 0,
//!   "columns": [{"name", "type", "key"}],
//!   "rows": [{"<column>": value, ..., "label"?: "(no contract)"}],
//!   "totals": {"<column>": value, ...} or null,
//!   "notes": ["..."],
//!   "rounding": "..."
//! }
//! ```
//!
//! A cell is `null` when empty, a number for a number column (its exact text: money and
//! hours are never floating point), else a string.

use crate::exact;
use crate::model::datetime::format_datetime;
use crate::report::sheet::{Column, Sheet};
use std::io::{self, Write};

fn text(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// Whether `s` is a number as JSON writes one (an optional minus, digits without a
/// leading zero, an optional fraction and exponent).
fn is_json_number(s: &str) -> bool {
    let b = s.strip_prefix('-').unwrap_or(s).as_bytes();
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(b);
    if n == 0 || (n > 1 && b[0] == b'0') {
        return false;
    }
    let mut rest = &b[n..];
    if let Some(f) = rest.strip_prefix(b".") {
        let k = digits(f);
        if k == 0 {
            return false;
        }
        rest = &f[k..];
    }
    if let Some(e) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let e = e
            .strip_prefix(b"+")
            .or_else(|| e.strip_prefix(b"-"))
            .unwrap_or(e);
        let k = digits(e);
        if k == 0 {
            return false;
        }
        rest = &e[k..];
    }
    rest.is_empty()
}

/// A cell as a JSON value.
fn value(v: &str, c: &Column) -> String {
    if v.is_empty() {
        "null".to_string()
    } else if c.kind.is_number() && is_json_number(v) {
        v.to_string()
    } else {
        text(v)
    }
}

fn object(sheet: &Sheet, row: &[String], label: Option<&str>) -> String {
    let mut parts: Vec<String> = row
        .iter()
        .zip(&sheet.columns)
        .map(|(v, c)| format!("{}: {}", text(&c.name), value(v, c)))
        .collect();
    if let Some(l) = label {
        parts.push(format!("\"label\": {}", text(l)));
    }
    format!("{{{}}}", parts.join(", "))
}

/// A gap as JSON: `{"from": ..., "to": ...}`, `from` null for a range with no start.
fn gap(&(f, t): &(i64, i64)) -> String {
    let from = if f == i64::MIN {
        "null".to_string()
    } else {
        text(&format_datetime(f))
    };
    format!(
        "{{\"from\": {from}, \"to\": {}}}",
        text(&format_datetime(t))
    )
}

/// Writes `sheet` as JSON.
pub fn write(sheet: &Sheet, out: &mut dyn Write) -> io::Result<()> {
    let s = &sheet.scope;
    writeln!(out, "{{")?;
    writeln!(out, "  \"report\": {},", text(&sheet.report))?;
    writeln!(out, "  \"title\": {},", text(&sheet.title))?;
    writeln!(
        out,
        "  \"period\": {{\"label\": {}, \"timezone\": {}, \"from\": {}, \"to\": {}}},",
        text(&s.period.label),
        text(s.period.timezone.name()),
        if s.period.from_ns == i64::MIN {
            "null".to_string()
        } else {
            text(&format_datetime(s.period.from_ns))
        },
        text(&format_datetime(s.period.to_ns)),
    )?;
    let closes: Vec<String> = s
        .closes
        .iter()
        .map(|c| {
            format!(
                "{{\"period\": {}, \"timezone\": {}, \"closed_at\": {}, \"actions\": {}, \"sha256\": {}}}",
                text(&c.period),
                text(&c.timezone),
                text(&c.closed_at),
                c.actions,
                text(&c.sha256)
            )
        })
        .collect();
    writeln!(
        out,
        "  \"closed\": {}, \"closes\": [{}],",
        !s.closes.is_empty(),
        closes.join(", ")
    )?;
    let gaps: Vec<String> = s.gaps.iter().map(gap).collect();
    writeln!(
        out,
        "  \"coverage\": {{\"complete\": {}, \"gaps\": [{}], \"text\": {}}},",
        s.gaps.is_empty(),
        gaps.join(", "),
        text(&s.coverage)
    )?;
    writeln!(out, "  \"undated_actions_in_store\": {},", s.undated)?;
    let columns: Vec<String> = sheet
        .columns
        .iter()
        .map(|c| {
            format!(
                "{{\"name\": {}, \"type\": \"{}\", \"key\": {}}}",
                text(&c.name),
                c.kind.name(),
                c.key
            )
        })
        .collect();
    writeln!(out, "  \"columns\": [{}],", columns.join(", "))?;
    writeln!(out, "  \"rows\": [")?;
    for (i, r) in sheet.rows.iter().enumerate() {
        let sep = if i + 1 < sheet.rows.len() { "," } else { "" };
        let label = sheet.blank_key.filter(|_| sheet.is_blank_key(r));
        writeln!(out, "    {}{sep}", object(sheet, r, label))?;
    }
    writeln!(out, "  ],")?;
    match &sheet.total {
        Some(t) => writeln!(out, "  \"totals\": {},", object(sheet, t, None))?,
        None => writeln!(out, "  \"totals\": null,")?,
    }
    let notes: Vec<String> = sheet.notes.iter().map(|n| text(n)).collect();
    writeln!(out, "  \"notes\": [{}],", notes.join(", "))?;
    writeln!(out, "  \"rounding\": {}", text(exact::HOURS_NOTE))?;
    writeln!(out, "}}")
}

#[cfg(test)]
mod tests {
    use super::is_json_number;

    #[test]
    fn only_json_numbers_are_written_as_numbers() {
        for ok in ["0", "-1", "12.50", "2960217.083529967", "1e5", "-0.25E-3"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for no in [
            "", "-", "01", "1.", ".5", "NaN", "inf", "1,5", "1e", "12a", "+1",
        ] {
            assert!(!is_json_number(no), "{no}");
        }
    }
}
