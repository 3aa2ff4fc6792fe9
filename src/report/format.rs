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
    /// One self-contained HTML page: the table (the CSV's cells) and, for contracts,
    /// unbilled, prepay and agents, an SVG chart.
    Html,
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

fn utc(ns: i64) -> String {
    crate::model::datetime::format_datetime(ns)
}

/// One line on what part of the period the store covers, and how to fill the gaps.
pub fn coverage_line(report: &Report) -> String {
    coverage_text(&report.gaps)
}

/// The coverage line for the `gaps` of a period ([`super::coverage_gaps`]). A gap from
/// `i64::MIN` is a range with no start: what the store covers is said, and that earlier
/// work may exist.
pub fn coverage_text(gaps: &[(i64, i64)]) -> String {
    if gaps.is_empty() {
        return "coverage: the store covers the whole period (synced windows, imports, closes)"
            .into();
    }
    let day = |ns: i64| utc(ns).chars().take(10).collect::<String>();
    let day_ns: i64 = 86_400 * 1_000_000_000;
    let mut parts = Vec::new();
    let mut fills = Vec::new();
    for &(f, t) in gaps {
        if f == i64::MIN {
            parts.push(format!("anything before {}", utc(t)));
            continue;
        }
        let end = (t - 1).div_euclid(day_ns) * day_ns + day_ns;
        fills.push(format!(
            "halo-billing sync --from {} --to {}",
            day(f),
            day(end)
        ));
        parts.push(format!("{} .. {}", utc(f), utc(t)));
    }
    let mut line = format!(
        "coverage: WARNING: the store does not cover {} of this period (no synced window, import or close there), so actions there are missing from these figures",
        parts.join(", ")
    );
    if let Some(&(_, first)) = gaps.first().filter(|g| g.0 == i64::MIN) {
        line.push_str(&format!(
            "; the range has no start and the store covers from {} on, so earlier work may exist: give --from, or sync (or import) the tenant's history from its first day",
            utc(first)
        ));
    }
    if !fills.is_empty() {
        line.push_str(&format!(
            "; fill with: {} (or import the saved responses for it)",
            fills.join("; ")
        ));
    }
    line
}

/// A gap as JSON: `{"from": ..., "to": ...}`, `from` null for a range with no start.
pub fn json_gap(&(f, t): &(i64, i64)) -> String {
    let from = if f == i64::MIN {
        "null".to_string()
    } else {
        json_str(&utc(f))
    };
    format!("{{\"from\": {from}, \"to\": {}}}", json_str(&utc(t)))
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

/// How a report is laid out beyond its format.
#[derive(Debug, Clone)]
pub struct Options {
    /// Table: every column, whatever the width.
    pub wide: bool,
    /// Table: the width to fit (terminal columns).
    pub width: usize,
    /// CSV: a last row labelled `TOTAL`.
    pub totals: bool,
    /// CSV: the field delimiter.
    pub delimiter: u8,
    /// CSV: a comma as the decimal mark (European spreadsheets and accounting).
    pub decimal_comma: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            wide: false,
            width: 120,
            totals: false,
            delimiter: b',',
            decimal_comma: false,
        }
    }
}

/// Writes `report` in `format` with the default layout.
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    write_with(report, format, &Options::default(), out)
}

/// Writes `report` in `format`, laid out as `opts` says.
pub fn write_with(
    report: &Report,
    format: Format,
    opts: &Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Csv => write_csv(report, opts, out),
        Format::Json => write_json(report, out),
        Format::Table => write_table(report, opts, out),
        Format::Html => {
            let (id, chart) = match report.kind {
                ReportKind::Contracts => ("contracts", super::html::Chart::HoursPerContract),
                ReportKind::Invoices => ("invoices", super::html::Chart::None),
            };
            let sheet = to_sheet(report);
            super::html::page(
                &sheet.title,
                &[super::html::Section {
                    id,
                    sheet: &sheet,
                    chart,
                }],
                out,
            )
        }
    }
}

/// The report as a sheet of named columns: the CSV's header and cells (text not yet
/// neutralised), the totals row, the notes a table carries.
pub fn to_sheet(report: &Report) -> super::sheet::Sheet {
    use super::sheet::{Cell, Sheet};
    let text_at = match report.kind {
        ReportKind::Contracts => 1,
        ReportKind::Invoices => 0,
    };
    let columns: Vec<(&'static str, Cell)> = header(report.kind)
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n,
                if i == text_at {
                    Cell::Text
                } else {
                    Cell::Number
                },
            )
        })
        .collect();
    let figs = figures(report);
    let rows = report
        .rows
        .iter()
        .zip(&figs.rows)
        .map(|(row, shown)| {
            let mut r: Vec<String> = key_cells(report.kind, row).to_vec();
            r.push(row.totals.actions.to_string());
            r.extend(shown.iter().cloned());
            r
        })
        .collect();
    let mut total = vec![
        String::new(),
        String::new(),
        report.total.actions.to_string(),
    ];
    total.extend(figs.total.iter().cloned());
    let mut notes = vec![format!("({})", exact::HOURS_NOTE)];
    notes.extend(report.conflicts.iter().cloned());
    notes.push(coverage_line(report));
    Sheet {
        title: format!(
            "Totals per {}, {} ({})",
            match report.kind {
                ReportKind::Contracts => "contract",
                ReportKind::Invoices => "invoice",
            },
            report.period.label,
            report.period.timezone.name()
        ),
        columns,
        rows,
        total: Some(total),
        notes,
    }
}

/// What a blank key means, for people: the row of actions without a contract, or of
/// work not yet invoiced.
pub fn blank_key_label(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Contracts => "(no contract)",
        ReportKind::Invoices => "(not invoiced)",
    }
}

fn write_csv(report: &Report, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .delimiter(opts.delimiter)
        .from_writer(out);
    w.write_record(header(report.kind))?;
    let text_at = match report.kind {
        ReportKind::Contracts => 1,
        ReportKind::Invoices => 0,
    };
    let figs = figures(report);
    let mark = |v: &String| {
        if opts.decimal_comma {
            v.replace('.', ",")
        } else {
            v.clone()
        }
    };
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
        rec.extend(shown.iter().map(mark));
        w.write_record(&rec)?;
    }
    if opts.totals {
        let mut rec = vec!["TOTAL".to_string(), String::new()];
        rec.push(report.total.actions.to_string());
        rec.extend(figs.total.iter().map(mark));
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
    let closes: Vec<String> = report
        .closed
        .iter()
        .map(|c| {
            format!(
                "{{\"period\": {}, \"timezone\": {}, \"closed_at\": {}, \"actions\": {}, \"sha256\": {}}}",
                json_str(&c.period),
                json_str(&c.timezone),
                json_str(&c.closed_at),
                c.actions,
                json_str(&c.sha256)
            )
        })
        .collect();
    writeln!(
        out,
        "  \"closed\": {}, \"closes\": [{}],",
        !report.closed.is_empty(),
        closes.join(", ")
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
        let blank = match report.kind {
            ReportKind::Contracts => row.id.is_none(),
            ReportKind::Invoices => row.text.is_none(),
        };
        let label = if blank {
            format!("\"label\": {}, ", json_str(blank_key_label(report.kind)))
        } else {
            String::new()
        };
        writeln!(
            out,
            "    {{\"{k1}\": {}, \"{k2}\": {}, {label}{}}}{sep}",
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
    let gaps: Vec<String> = report.gaps.iter().map(json_gap).collect();
    writeln!(
        out,
        "  \"coverage\": {{\"complete\": {}, \"gaps\": [{}]}},",
        report.gaps.is_empty(),
        gaps.join(", ")
    )?;
    writeln!(out, "  \"undated_actions_in_store\": {}", report.undated)?;
    writeln!(out, "}}")?;
    Ok(())
}

/// A column's short label in a table that must fit the terminal.
fn short_label(name: &str) -> &str {
    match name {
        "contract_id" => "contract",
        "contract_ref" => "ref",
        "invoice_number" => "invoice",
        "invoice_id" => "id",
        "time_taken_hours" => "time h",
        "non_bill_hours" => "non-bill h",
        "travel_hours" => "travel h",
        "chargeable_hours" => "charge h",
        "chargeable_amount" => "charge",
        "non_chargeable_hours" => "non-charge h",
        "non_chargeable_amount" => "non-charge",
        "prepay_hours" => "prepay h",
        "prepay_amount" => "prepay",
        other => other,
    }
}

/// The order in which a table that must fit the terminal gives up columns (the last
/// ones first): the key, actions, the three amounts, the reference, the three hours.
const FIT_PRIORITY: [&str; 6] = [
    "chargeable_amount",
    "prepay_amount",
    "non_chargeable_amount",
    "chargeable_hours",
    "prepay_hours",
    "non_chargeable_hours",
];

/// Breaks prose into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// `v` padded with spaces to `w` characters, on the right (`right`: on the left, for
/// figures). Padded by hand: a width given to `format!` panics past 65,535.
pub(crate) fn pad(v: &str, w: usize, right: bool) -> String {
    let fill = w.saturating_sub(v.chars().count());
    let spaces = " ".repeat(fill);
    if right {
        format!("{spaces}{v}")
    } else {
        format!("{v}{spaces}")
    }
}

/// The widest a key shown in a table fitted to the terminal may be; longer keys (a
/// 70,000-character invoice number) are shortened with an ellipsis. `--wide` shows them
/// whole.
const KEY_WIDTH: usize = 40;

/// Shortens `s` to `w` characters with an ellipsis.
fn shorten(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn write_table(report: &Report, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    let full = header(report.kind);
    let figs = figures(report);
    let mut all: Vec<Vec<String>> = Vec::with_capacity(report.rows.len());
    for (row, shown) in report.rows.iter().zip(&figs.rows) {
        let [a, b] = key_cells(report.kind, row);
        let mut r = vec![
            if a.is_empty() {
                blank_key_label(report.kind).to_string()
            } else {
                a
            },
            b,
            row.totals.actions.to_string(),
        ];
        r.extend(shown.iter().cloned());
        all.push(r);
    }
    let mut total_all = vec![
        "TOTAL".to_string(),
        String::new(),
        report.total.actions.to_string(),
    ];
    total_all.extend(figs.total.iter().cloned());
    let label = |c: usize| -> String {
        if opts.wide {
            full[c].to_string()
        } else {
            short_label(full[c]).to_string()
        }
    };
    for r in all.iter_mut() {
        for c in [0, 1] {
            r[c] = super::safe::shown(&r[c]).into_owned();
        }
        if !opts.wide {
            r[0] = shorten(&r[0], KEY_WIDTH);
        }
    }
    let width_of = |c: usize| -> usize {
        all.iter()
            .chain([&total_all])
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
            .max(label(c).chars().count())
    };
    let find = |name: &str| full.iter().position(|h| *h == name).expect("a column");
    // Which columns: all with --wide; else the key and actions, then by priority what
    // fits (the reference, shortened to at most 16 characters, after the amounts).
    let keep: Vec<usize> = if opts.wide {
        (0..full.len()).collect()
    } else {
        let mut keep = vec![0, 2];
        let mut used = width_of(0) + 2 + width_of(2);
        let mut order: Vec<usize> = FIT_PRIORITY[..3].iter().map(|n| find(n)).collect();
        order.push(1);
        order.extend(FIT_PRIORITY[3..].iter().map(|n| find(n)));
        for c in order {
            let w = if c == 1 {
                width_of(1).min(16)
            } else {
                width_of(c)
            };
            if used + 2 + w <= opts.width {
                used += 2 + w;
                keep.push(c);
            }
        }
        keep.sort_unstable();
        keep
    };
    let head: Vec<String> = keep.iter().map(|&c| label(c)).collect();
    let mut cells: Vec<Vec<String>> = all
        .iter()
        .map(|r| keep.iter().map(|&c| r[c].clone()).collect())
        .collect();
    let total: Vec<String> = keep.iter().map(|&c| total_all[c].clone()).collect();
    let widths: Vec<usize> = keep
        .iter()
        .map(|&c| {
            if c == 1 && !opts.wide {
                width_of(1).min(16)
            } else {
                width_of(c)
            }
        })
        .collect();
    if let Some(k) = keep.iter().position(|&c| c == 1) {
        for r in cells.iter_mut() {
            r[k] = shorten(&r[k], widths[k]);
        }
    }
    let line = |r: &[String], out: &mut dyn Write| -> io::Result<()> {
        let parts: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| pad(v, widths[c], keep[c] >= 2))
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
    line(&head, out)?;
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
    let mut notes = vec![format!("({})", exact::HOURS_NOTE)];
    let left: Vec<&str> = (3..full.len())
        .filter(|c| !keep.contains(c))
        .map(|c| full[c])
        .collect();
    if !left.is_empty() {
        notes.push(format!(
            "(not shown at this width: {}; --wide shows every column)",
            left.join(", ")
        ));
    }
    notes.push(coverage_line(report));
    let width = if opts.wide { usize::MAX } else { opts.width };
    for n in notes {
        for l in wrap(&n, width) {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

/// A table of signed deltas (adjustments): key columns, then actions and the measures,
/// with exact totals. Written in the three formats like a report.
#[derive(Debug, Clone)]
pub struct Grid {
    /// What it is, for the table's first line and JSON's `title`.
    pub title: String,
    /// The key columns' names (CSV header, JSON keys).
    pub keys: Vec<&'static str>,
    /// Key columns holding free text (neutralised for spreadsheets in CSV).
    pub text_keys: Vec<&'static str>,
    /// The rows.
    pub rows: Vec<GridRow>,
    /// The exact sum of the rows (keys unused).
    pub total: GridRow,
}

/// One row of a [`Grid`].
#[derive(Debug, Clone, Default)]
pub struct GridRow {
    /// The key cells, in `Grid::keys` order (empty: none).
    pub keys: Vec<String>,
    /// Actions delta.
    pub actions: i64,
    /// Measure deltas in their integer units.
    pub sums: [i64; MEASURES],
}

fn shown_measures(sums: &[i64; MEASURES]) -> [String; MEASURES] {
    std::array::from_fn(|m| match MEASURE_NAMES[m] {
        "mileage" => exact::format_mileage(sums[m]),
        n if n.ends_with("_hours") => exact::format_hours(sums[m]),
        _ => exact::format_money(sums[m]),
    })
}

impl Grid {
    /// The grid as a sheet of named columns; `narrow` leaves out the measures only
    /// `--wide` tables show.
    fn sheet(&self, narrow: bool) -> super::sheet::Sheet {
        use super::sheet::{Cell, Sheet};
        let keep: Vec<usize> = (0..MEASURES)
            .filter(|&m| !narrow || !WIDE_ONLY.contains(&MEASURE_NAMES[m]))
            .collect();
        let mut columns: Vec<(&'static str, Cell)> = self
            .keys
            .iter()
            .map(|k| {
                let numeric = k.ends_with("_id") || *k == "id";
                (*k, if numeric { Cell::Number } else { Cell::Text })
            })
            .collect();
        columns.push(("actions", Cell::Number));
        columns.extend(keep.iter().map(|&m| (MEASURE_NAMES[m], Cell::Number)));
        let cells = |r: &GridRow, keys: Vec<String>| -> Vec<String> {
            let shown = shown_measures(&r.sums);
            let mut v = keys;
            v.push(r.actions.to_string());
            v.extend(keep.iter().map(|&m| shown[m].clone()));
            v
        };
        let mut notes = Vec::new();
        if narrow {
            notes.push(format!(
                "(not shown: {}; --wide shows every column)",
                WIDE_ONLY.join(", ")
            ));
        }
        if self.rows.is_empty() {
            notes.push("(no changes since the close)".into());
        }
        Sheet {
            title: self.title.clone(),
            rows: self.rows.iter().map(|r| cells(r, r.keys.clone())).collect(),
            total: Some(cells(&self.total, vec![String::new(); self.keys.len()])),
            columns,
            notes,
        }
    }
}

/// Writes `grid` in `format` (through [`super::sheet::write`]).
pub fn write_grid(
    grid: &Grid,
    format: Format,
    opts: &Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    let narrow = format == Format::Table && !opts.wide;
    super::sheet::write(&grid.sheet(narrow), format, opts, out)
}

/// The measures a table of adjustments shows only with `--wide` (the others are the
/// three hours/amount pairs).
const WIDE_ONLY: [&str; 4] = [
    "time_taken_hours",
    "non_bill_hours",
    "travel_hours",
    "mileage",
];
