//! A report of named columns (the month-end pack: unbilled, agents, actions), written as
//! CSV (a header contract, text made safe for spreadsheets), JSON (numbers as numbers)
//! or a table. Every figure arrives already formatted by [`crate::exact`]; nothing is
//! rounded here.

use super::format::{Format, Options};
use super::safe;
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
            let cells = |r: &[String]| -> Vec<String> {
                r.iter()
                    .zip(&sheet.columns)
                    .map(|(v, (_, kind))| match kind {
                        Cell::Text => safe::cell(v).into_owned(),
                        Cell::Number if opts.decimal_comma => v.replace('.', ","),
                        Cell::Number => v.clone(),
                    })
                    .collect()
            };
            for r in &sheet.rows {
                w.write_record(cells(r))?;
            }
            if let (true, Some(t)) = (opts.totals, &sheet.total) {
                let mut t = cells(t);
                t[0] = "TOTAL".into();
                w.write_record(t)?;
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
            // Text is shortened to 28 characters; figures never.
            let short = |v: &str, kind: Cell| -> String {
                if kind == Cell::Text && v.chars().count() > 28 {
                    let mut s: String = v.chars().take(27).collect();
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
                        _ if total && c == 0 => format!("{v:<w$}", w = widths[c]),
                        Cell::Text => format!("{v:<w$}", w = widths[c]),
                        Cell::Number => format!("{v:>w$}", w = widths[c]),
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
