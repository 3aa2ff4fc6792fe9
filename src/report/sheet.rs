//! A report of named columns (the month-end pack: unbilled, agents, actions), written as
//! CSV (a header contract, text made safe for spreadsheets), JSON (numbers as numbers)
//! or a table. Every figure arrives already formatted by [`crate::exact`]; nothing is
//! rounded here.

use super::format::{Format, Options};
use super::safe;
use std::borrow::Cow;
use std::io::{self, Write};

/// What a column holds, for JSON and alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Free text (neutralised in CSV, a string in JSON).
    Text,
    /// A number (whole or exact decimal): a number in JSON, right-aligned.
    Number,
}

/// A finished report of named columns.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// First line of the table, `title` in JSON.
    pub title: String,
    /// Column names (the CSV header, a contract) and kinds.
    pub columns: Vec<(&'static str, Cell)>,
    /// Rows of formatted cells (empty: none).
    pub rows: Vec<Vec<String>>,
    /// The totals row, where the report has one (empty cells where a total means nothing).
    pub total: Option<Vec<String>>,
    /// Lines said under the table and in JSON's `notes` (coverage, rounding).
    pub notes: Vec<String>,
}

/// A row's CSV cells: text made safe, numbers with a decimal comma where asked;
/// borrowed where nothing changes.
fn csv_cells<'a>(
    row: &'a [String],
    columns: &'a [(&'static str, Cell)],
    decimal_comma: bool,
) -> impl Iterator<Item = Cow<'a, str>> {
    row.iter()
        .zip(columns)
        .map(move |(v, (_, kind))| match kind {
            Cell::Text => safe::cell(v),
            Cell::Number if decimal_comma => v.replace('.', ",").into(),
            Cell::Number => Cow::Borrowed(v.as_str()),
        })
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// Writes `sheet` in `format`.
pub fn write(sheet: &Sheet, format: Format, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .delimiter(opts.delimiter)
                .from_writer(out);
            w.write_record(sheet.columns.iter().map(|c| c.0))?;
            let mut record = |cells: &mut dyn Iterator<Item = Cow<'_, str>>| {
                for c in cells {
                    w.write_field(c.as_bytes())?;
                }
                w.write_record(None::<&[u8]>)
            };
            let comma = opts.decimal_comma;
            for r in &sheet.rows {
                record(&mut csv_cells(r, &sheet.columns, comma))?;
            }
            if let (true, Some(t)) = (opts.totals, &sheet.total) {
                record(
                    &mut std::iter::once("TOTAL".into())
                        .chain(csv_cells(t, &sheet.columns, comma).skip(1)),
                )?;
            }
            w.flush()
        }
        Format::Json => {
            let obj = |r: &[String]| -> String {
                let parts: Vec<String> = r
                    .iter()
                    .zip(&sheet.columns)
                    .map(|(v, (name, kind))| {
                        let value = match kind {
                            _ if v.is_empty() => "null".to_string(),
                            Cell::Number if v.parse::<rust_decimal::Decimal>().is_ok() => v.clone(),
                            _ => json_str(v),
                        };
                        format!("\"{name}\": {value}")
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            };
            writeln!(out, "{{")?;
            writeln!(out, "  \"title\": {},", json_str(&sheet.title))?;
            writeln!(out, "  \"rows\": [")?;
            for (i, r) in sheet.rows.iter().enumerate() {
                let sep = if i + 1 < sheet.rows.len() { "," } else { "" };
                writeln!(out, "    {}{sep}", obj(r))?;
            }
            writeln!(out, "  ],")?;
            match &sheet.total {
                Some(t) => writeln!(out, "  \"totals\": {},", obj(t))?,
                None => writeln!(out, "  \"totals\": null,")?,
            }
            let notes: Vec<String> = sheet.notes.iter().map(|n| json_str(n)).collect();
            writeln!(out, "  \"notes\": [{}]", notes.join(", "))?;
            writeln!(out, "}}")
        }
        Format::Html => super::html::page(
            &sheet.title,
            &[super::html::Section {
                id: "report",
                sheet,
                chart: super::html::Chart::None,
            }],
            out,
        ),
        Format::Table => {
            // Text is shortened to 28 characters, and anything to 40 (a number-like key
            // of 70,000 digits); figures are never that long.
            let short = |v: &str, kind: Cell| -> String {
                let v = &*super::safe::shown(v);
                let max = if kind == Cell::Text { 28 } else { 40 };
                if v.chars().count() > max {
                    let mut s: String = v.chars().take(max - 1).collect();
                    s.push('…');
                    s
                } else {
                    v.to_string()
                }
            };
            let shape = |r: &[String]| -> Vec<String> {
                r.iter()
                    .zip(&sheet.columns)
                    .map(|(v, (_, k))| short(v, *k))
                    .collect()
            };
            let head: Vec<String> = sheet.columns.iter().map(|c| c.0.to_string()).collect();
            let rows: Vec<Vec<String>> = sheet.rows.iter().map(|r| shape(r)).collect();
            let total = sheet.total.as_ref().map(|t| {
                let mut t = shape(t);
                t[0] = "TOTAL".into();
                t
            });
            let widths: Vec<usize> = (0..head.len())
                .map(|c| {
                    rows.iter()
                        .chain(total.iter())
                        .chain([&head])
                        .map(|r| r[c].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            // Text left, figures right; the TOTAL label left.
            let fmt = |r: &[String], total: bool| -> String {
                r.iter()
                    .enumerate()
                    .map(|(c, v)| match sheet.columns[c].1 {
                        _ if total && c == 0 => super::format::pad(v, widths[c], false),
                        Cell::Text => super::format::pad(v, widths[c], false),
                        Cell::Number => super::format::pad(v, widths[c], true),
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            let rule = "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1));
            writeln!(out, "{}", sheet.title)?;
            writeln!(out, "{}", fmt(&head, false))?;
            writeln!(out, "{rule}")?;
            for r in &rows {
                writeln!(out, "{}", fmt(r, false))?;
            }
            if let Some(t) = &total {
                writeln!(out, "{rule}")?;
                writeln!(out, "{}", fmt(t, true))?;
            }
            for n in &sheet.notes {
                writeln!(out, "{n}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet() -> Sheet {
        Sheet {
            title: "t".into(),
            columns: vec![
                ("who", Cell::Text),
                ("hours", Cell::Number),
                ("note", Cell::Text),
            ],
            rows: vec![
                vec!["=cmd".into(), "1.5000".into(), "a;b \"c\"".into()],
                vec!["Ann".into(), "-0.2500".into(), String::new()],
            ],
            total: Some(vec![String::new(), "1.2500".into(), "2 actions".into()]),
            notes: vec![],
        }
    }

    fn csv(opts: &Options) -> String {
        let mut out = Vec::new();
        write(&sheet(), Format::Csv, opts, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_rows_make_text_safe_keep_figures_and_label_the_total() {
        let opts = Options {
            totals: true,
            ..Options::default()
        };
        assert_eq!(
            csv(&opts),
            "who,hours,note\r\n'=cmd,1.5000,\"a;b \"\"c\"\"\"\r\nAnn,-0.2500,\r\nTOTAL,1.2500,2 actions\r\n"
        );
        assert_eq!(
            csv(&Options::default()),
            "who,hours,note\r\n'=cmd,1.5000,\"a;b \"\"c\"\"\"\r\nAnn,-0.2500,\r\n"
        );
    }

    #[test]
    fn csv_with_a_decimal_comma_changes_figures_only() {
        let opts = Options {
            totals: true,
            delimiter: b';',
            decimal_comma: true,
            ..Options::default()
        };
        assert_eq!(
            csv(&opts),
            "who;hours;note\r\n'=cmd;1,5000;\"a;b \"\"c\"\"\"\r\nAnn;-0,2500;\r\nTOTAL;1,2500;2 actions\r\n"
        );
    }
}
