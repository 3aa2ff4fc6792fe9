//! Writing a report as CSV (for tools), JSON (for programs) or a table (for people).
//!
//! CSV headers are a contract other tools parse: change them only with a new name.
//! Hours and mileage have 4 decimals, money 2 ([`crate::exact`] does the rounding: each
//! hours figure is its exact value rounded on its own; money is exact).
//! CSV has no totals row; JSON carries totals apart from the rows; the table shows them.

use super::{Report, ReportKind, Row, safe};
use crate::aggregate::{MEASURE_NAMES, MEASURES};
use crate::exact;
use std::io::{self, Write};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, one row per key, header first; text cells spreadsheet-safe.
    Csv,
    /// One JSON object: period, rows and totals; figures as exact decimal numbers.
    Json,
    /// Aligned columns with a totals line, for reading in a terminal.
    Table,
}

/// Every figure of a report as shown: each hours figure (row or total) its exact value
/// rounded once ([`exact::format_hours`]); money and mileage exact.
struct Figures {
    rows: Vec<[String; MEASURES]>,
    total: [String; MEASURES],
}

fn figures(report: &Report) -> Figures {
    let show = |m: usize, v: i64| match MEASURE_NAMES[m] {
        "mileage" => exact::format_mileage(v),
        n if n.ends_with("_hours") => exact::format_hours(v),
        _ => exact::format_money(v),
    };
    let shown = |sums: &[i64; MEASURES]| -> [String; MEASURES] {
        std::array::from_fn(|m| show(m, sums[m]))
    };
    Figures {
        rows: report.rows.iter().map(|r| shown(&r.totals.sums)).collect(),
        total: shown(&report.total.sums),
    }
}

fn key_names(kind: ReportKind) -> [&'static str; 2] {
    match kind {
        ReportKind::Contracts => ["contract_id", "contract_ref"],
        ReportKind::Invoices => ["invoice_number", "invoice_id"],
    }
}

/// The two key cells of a row, in header order, unescaped.
fn key_cells(kind: ReportKind, row: &Row) -> [String; 2] {
    let id = row.id.map(|v| v.to_string()).unwrap_or_default();
    let text = row.text.clone().unwrap_or_default();
    match kind {
        ReportKind::Contracts => [id, text],
        ReportKind::Invoices => [text, id],
    }
}

/// The CSV header line's cells.
pub fn header(kind: ReportKind) -> Vec<&'static str> {
    let mut h = key_names(kind).to_vec();
    h.push("actions");
    h.extend(MEASURE_NAMES);
    h
}

/// Writes `report` in `format`.
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Csv => write_csv(report, out),
        Format::Json => write_json(report, out),
        Format::Table => write_table(report, out),
    }
}

fn write_csv(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(header(report.kind))?;
    let text_at = match report.kind {
        ReportKind::Contracts => 1,
        ReportKind::Invoices => 0,
    };
    let figs = figures(report);
    for (row, shown) in report.rows.iter().zip(&figs.rows) {
        let keys = key_cells(report.kind, row);
        let mut rec: Vec<String> = Vec::with_capacity(3 + MEASURES);
        for (i, k) in keys.iter().enumerate() {
            rec.push(if i == text_at {
                safe::cell(k).into_owned()
            } else {
                k.clone()
            });
        }
        rec.push(row.totals.actions.to_string());
        rec.extend(shown.iter().cloned());
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn json_totals(actions: i64, shown: &[String; MEASURES]) -> String {
    let mut s = format!("\"actions\": {actions}");
    for m in 0..MEASURES {
        s.push_str(&format!(", \"{}\": {}", MEASURE_NAMES[m], shown[m]));
    }
    s
}

fn write_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let kind = match report.kind {
        ReportKind::Contracts => "contracts",
        ReportKind::Invoices => "invoices",
    };
    let [k1, k2] = key_names(report.kind);
    writeln!(out, "{{")?;
    writeln!(out, "  \"report\": \"{kind}\",")?;
    writeln!(
        out,
        "  \"period\": {{\"label\": {}, \"timezone\": {}, \"from\": {}, \"to\": {}}},",
        json_str(&report.period.label),
        json_str(report.period.timezone.name()),
        json_str(&crate::model::datetime::format_datetime(
            report.period.from_ns
        )),
        json_str(&crate::model::datetime::format_datetime(
            report.period.to_ns
        )),
    )?;
    writeln!(out, "  \"rows\": [")?;
    let figs = figures(report);
    for (i, (row, shown)) in report.rows.iter().zip(&figs.rows).enumerate() {
        let [c1, c2] = key_cells(report.kind, row);
        let cell = |name: &str, v: String| -> String {
            let numeric = name.ends_with("_id");
            if v.is_empty() {
                "null".to_string()
            } else if numeric {
                v
            } else {
                json_str(&v)
            }
        };
        let sep = if i + 1 < report.rows.len() { "," } else { "" };
        writeln!(
            out,
            "    {{\"{k1}\": {}, \"{k2}\": {}, {}}}{sep}",
            cell(k1, c1),
            cell(k2, c2),
            json_totals(row.totals.actions, shown)
        )?;
    }
    writeln!(out, "  ],")?;
    writeln!(
        out,
        "  \"totals\": {{{}}},",
        json_totals(report.total.actions, &figs.total)
    )?;
    writeln!(out, "  \"rounding\": {},", json_str(exact::HOURS_NOTE))?;
    writeln!(out, "  \"undated_actions_in_store\": {}", report.undated)?;
    writeln!(out, "}}")?;
    Ok(())
}

fn write_table(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let head = header(report.kind);
    let mut cells: Vec<Vec<String>> = Vec::with_capacity(report.rows.len() + 1);
    let figs = figures(report);
    for (row, shown) in report.rows.iter().zip(&figs.rows) {
        let [a, b] = key_cells(report.kind, row);
        let mut r = vec![
            if a.is_empty() {
                "(none)".to_string()
            } else {
                a
            },
            b,
            row.totals.actions.to_string(),
        ];
        r.extend(shown.iter().cloned());
        cells.push(r);
    }
    let mut total = vec![
        "TOTAL".to_string(),
        String::new(),
        report.total.actions.to_string(),
    ];
    total.extend(figs.total.iter().cloned());
    let widths: Vec<usize> = (0..head.len())
        .map(|c| {
            cells
                .iter()
                .chain([&total])
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
                .max(head[c].len())
        })
        .collect();
    let line = |r: &[String], out: &mut dyn Write| -> io::Result<()> {
        let parts: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c < 2 {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        writeln!(out, "{}", parts.join("  ").trim_end())
    };
    let kind = match report.kind {
        ReportKind::Contracts => "Contracts",
        ReportKind::Invoices => "Invoices",
    };
    writeln!(
        out,
        "{kind}, period {} ({})",
        report.period.label,
        report.period.timezone.name()
    )?;
    line(&head.iter().map(|s| s.to_string()).collect::<Vec<_>>(), out)?;
    writeln!(
        out,
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    )?;
    for r in &cells {
        line(r, out)?;
    }
    writeln!(
        out,
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    )?;
    line(&total, out)?;
    writeln!(out, "({})", exact::HOURS_NOTE)?;
    Ok(())
}
