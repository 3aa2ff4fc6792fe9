//! Sheets as one self-contained HTML page (`--format html`, `report pack`): each
//! sheet's table with the very cells its CSV has (text HTML-escaped instead of
//! formula-neutralised), its notes and coverage, and its chart ([`super::chart`]) where
//! people would rather look than read. No script, no style sheet or font from the
//! network: the file opens anywhere, offline.

use crate::report::safe;
use crate::report::sheet::{Column, Kind, Sheet};
use std::io::{self, Write};

fn esc(s: &str) -> String {
    let s = safe::shown(s);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5rem 2rem;color:#1d2330;max-width:1320px}\
h1{font-size:1.45rem;margin:.2rem 0 .4rem}h2{font-size:1.15rem;margin:2.2rem 0 .4rem}h3{font-size:.9rem;color:#5a6272;margin:1rem 0 .2rem}\
p.scope{color:#5a6272;font-size:.85rem;margin:0 0 1rem}\
table{border-collapse:collapse;font-size:.8rem;margin:.4rem 0}\
th,td{border-bottom:1px solid #dde1e8;padding:.22rem .5rem;text-align:left;vertical-align:top}\
th{font-weight:600;background:#f3f5f8;white-space:normal;max-width:8.5em}\
td{white-space:nowrap}td.t{white-space:normal;overflow-wrap:anywhere;max-width:16em}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
td.label{font-style:italic;color:#5a6272}\
tr.total td{font-weight:600;border-top:2px solid #1d2330}\
p.note{color:#5a6272;font-size:.78rem;margin:.2rem 0;max-width:60rem}figure{margin:.5rem 0}figure svg{max-width:100%;height:auto}\
nav a{margin-right:1rem}div.t{overflow-x:auto;max-width:100%}\
@media print{body{margin:0;max-width:none;font-size:10pt}nav{display:none}section{break-before:page}section:first-of-type{break-before:auto}\
thead{display:table-header-group}tfoot{display:table-row-group}tr,figure{break-inside:avoid}div.t{overflow:visible}h2,h3{break-after:avoid}}";

/// The width a printed A4 landscape page (and a 1,400 px window with its margins) gives a
/// table, in CSS pixels: tables are cut to fit it.
const TABLE_WIDTH: usize = 980;

/// A column's header as people read it; the CSV keeps the field name (in `data-col`).
pub fn human(name: &str) -> String {
    let known = match name {
        "contract_id" => "Contract",
        "contract_ref" => "Reference",
        "invoice_number" => "Invoice",
        "invoice_id" => "Invoice id",
        "ticket_id" => "Ticket",
        "id" => "Action",
        "agent_id" => "Agent id",
        "agent" => "Agent",
        "actions" => "Actions",
        "time_taken_hours" => "Time taken (h)",
        "non_bill_hours" => "Non-billable time (h)",
        "travel_hours" => "Travel (h)",
        "mileage" => "Mileage",
        "chargeable_hours" => "Chargeable hours",
        "chargeable_amount" => "Chargeable amount",
        "non_chargeable_hours" => "Non-chargeable hours",
        "non_chargeable_amount" => "Non-chargeable amount",
        "prepay_hours" => "Prepay hours",
        "prepay_amount" => "Prepay amount",
        "age_0_30_amount" => "Age 0-30 days",
        "age_31_60_amount" => "Age 31-60 days",
        "age_61_90_amount" => "Age 61-90 days",
        "age_over_90_amount" => "Age over 90 days",
        "exported_amount" => "Already exported",
        "oldest" => "Oldest",
        "newest" => "Newest",
        "billable_percent" => "Billable %",
        "effective_rate" => "Effective rate",
        "running_hours" => "Hours drawn so far",
        "running_amount" => "Amount drawn so far",
        "purchased_hours" => "Hours bought",
        "purchased_amount" => "Amount bought",
        "remaining_hours" => "Hours left",
        "remaining_amount" => "Amount left",
        "halo_remaining_hours" => "Halo: hours left",
        "halo_remaining_amount" => "Halo: amount left",
        "difference_hours" => "Difference (h)",
        "difference_amount" => "Difference",
        "lines_amount" => "Invoice time lines",
        "actions_amount" => "Actions' amount",
        "invoice_date" => "Invoice date",
        "charge_rate" => "Charge rate",
        "invoiced_amount" => "Invoiced",
        "unbilled_amount" => "Not invoiced",
        "datetime" => "When",
        "note" => "Note",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let mut words: Vec<String> = name
        .split('_')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if words.last().is_some_and(|w| w == "hours") {
        words.pop();
        words.push("(h)".into());
    }
    let mut out = words.join(" ");
    if let Some(f) = out.get(..1) {
        out = f.to_uppercase() + &out[1..];
    }
    out
}

/// The order in which columns take a place in the first table (lower first): what
/// finance reads first, money and the verdicts, then the rest.
fn rank(c: &Column) -> u8 {
    if c.key {
        return 0;
    }
    match (c.kind, c.name.as_str()) {
        (_, "contract_ref" | "agent" | "customer") => 1,
        (Kind::Text, "status" | "finding" | "reason" | "change") => 1,
        (Kind::Money, _) => 2,
        (Kind::Count, _) => 3,
        (Kind::Percent, _) => 3,
        (Kind::Text | Kind::Id, _) => 4,
        (Kind::Date | Kind::DateTime, _) => 5,
        (Kind::Hours, _) => 6,
        _ => 7,
    }
}

/// About how wide a column is drawn, in CSS pixels (headers wrap, long text wraps).
fn width(sheet: &Sheet, i: usize) -> usize {
    let c = &sheet.columns[i];
    let header = human(&c.name);
    let head = header
        .split(' ')
        .map(|w| w.chars().count())
        .max()
        .unwrap_or(0)
        .max(header.chars().count().min(12));
    let cells = sheet
        .rows
        .iter()
        .chain(&sheet.total)
        .map(|r| r[i].chars().count())
        .max()
        .unwrap_or(0)
        .max(if c.key {
            sheet.blank_key.map_or(0, |b| b.chars().count())
        } else {
            0
        });
    let cells = if c.kind.is_number() {
        cells
    } else {
        cells.min(22)
    };
    head.max(cells).max(3) * 8 + 18
}

/// The tables a sheet is shown in, each a list of column indices: the first holds the
/// keys and the columns finance reads first, as many as fit [`TABLE_WIDTH`]; the rest
/// follow in detail tables of the same width, each repeating the keys.
fn split(sheet: &Sheet) -> Vec<Vec<usize>> {
    let n = sheet.columns.len();
    let keys: Vec<usize> = (0..n).filter(|&i| sheet.columns[i].key).collect();
    let key_width: usize = keys.iter().map(|&i| width(sheet, i)).sum();
    let mut order: Vec<usize> = (0..n).filter(|&i| !sheet.columns[i].key).collect();
    order.sort_by_key(|&i| (rank(&sheet.columns[i]), i));
    let mut tables: Vec<Vec<usize>> = Vec::new();
    let mut current = keys.clone();
    let mut used = key_width;
    for i in order {
        let w = width(sheet, i);
        if used + w > TABLE_WIDTH && current.len() > keys.len() {
            tables.push(std::mem::replace(&mut current, keys.clone()));
            used = key_width;
        }
        current.push(i);
        used += w;
    }
    tables.push(current);
    // Each table keeps the sheet's column order.
    for t in &mut tables {
        t.sort_unstable();
    }
    tables
}

/// Writes one page of `sheets` under `title`, a section each (its id the report's
/// name), linked from the top when there are several. One sheet: its title is the
/// page's one heading.
pub fn page(title: &str, sheets: &[&Sheet], out: &mut dyn Write) -> io::Result<()> {
    let covered = sheets.iter().all(|s| s.scope.gaps.is_empty());
    let scope = match sheets.first() {
        Some(s) => format!(
            "{} ({}) · {}",
            s.scope.period.label,
            s.scope.period.timezone.name(),
            if covered {
                "the store covers the whole period"
            } else {
                "WARNING: the store does not cover all of the period (see each section)"
            }
        ),
        None => String::new(),
    };
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    // The printed page's header: what and when, and whether the store covers it.
    let print_head = format!(
        "@page{{size:A4 landscape;margin:14mm 10mm 12mm;@top-left{{content:\"{}\";font:9pt sans-serif;color:#5a6272}}\
         @bottom-right{{content:counter(page) \" / \" counter(pages);font:9pt sans-serif;color:#5a6272}}}}",
        css_string(&format!("{title} · {scope}"))
    );
    writeln!(
        out,
        "<title>{}</title><style>{STYLE}{print_head}</style></head><body>",
        esc(title)
    )?;
    writeln!(out, "<h1>{}</h1>", esc(title))?;
    if !scope.is_empty() {
        writeln!(out, "<p class=\"scope\">{}</p>", esc(&scope))?;
    }
    let one = sheets.len() == 1;
    if !one {
        let links: Vec<String> = sheets
            .iter()
            .map(|s| format!("<a href=\"#{0}\">{0}</a>", esc(&s.report)))
            .collect();
        writeln!(out, "<nav>{}</nav>", links.join(""))?;
    }
    for s in sheets {
        writeln!(out, "<section id=\"{}\">", esc(&s.report))?;
        if !one {
            writeln!(out, "<h2>{}</h2>", esc(&s.title))?;
        }
        match super::chart::svg(s) {
            Ok(Some(svg)) => writeln!(out, "<figure>{svg}</figure>")?,
            Ok(None) => {}
            Err(e) => writeln!(out, "<p class=\"note\">(no chart: {})</p>", esc(&e))?,
        }
        for (k, cols) in split(s).iter().enumerate() {
            if k == 1 {
                writeln!(out, "<h3>Details</h3>")?;
            }
            table(s, cols, k, out)?;
        }
        for n in s.notes.iter().chain(Some(&s.scope.coverage)) {
            if !n.is_empty() {
                writeln!(out, "<p class=\"note\">{}</p>", esc(n))?;
            }
        }
        writeln!(out, "</section>")?;
    }
    writeln!(out, "</body></html>")
}

/// `s` as the inside of a CSS string.
fn css_string(s: &str) -> String {
    safe::shown(s)
        .chars()
        .map(|c| match c {
            '"' | '\\' => format!("\\{c}"),
            '\n' | '\r' => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

/// One table of `sheet`: the columns `cols`; the `k`-th of the sheet (`{report}-table`,
/// then `{report}-table-2`, ...). A row whose keys are all empty is labelled with what it
/// stands for (`(no contract)`).
fn table(sheet: &Sheet, cols: &[usize], k: usize, out: &mut dyn Write) -> io::Result<()> {
    let id = if k == 0 {
        format!("{}-table", sheet.report)
    } else {
        format!("{}-table-{}", sheet.report, k + 1)
    };
    let class = |c: &Column| {
        if c.kind.is_number() {
            " class=\"n\""
        } else if c.kind == Kind::Text {
            // Text wraps (a key too: a reference of any length never widens the page).
            " class=\"t\""
        } else {
            ""
        }
    };
    writeln!(
        out,
        "<div class=\"t\"><table id=\"{}\"><thead><tr>",
        esc(&id)
    )?;
    for &i in cols {
        let c = &sheet.columns[i];
        write!(
            out,
            "<th{} data-col=\"{}\">{}</th>",
            if c.kind.is_number() {
                " class=\"n\""
            } else {
                ""
            },
            esc(&c.name),
            esc(&human(&c.name))
        )?;
    }
    writeln!(out, "</tr></thead><tbody>")?;
    let first_key = cols.iter().copied().find(|&i| sheet.columns[i].key);
    for r in &sheet.rows {
        write!(out, "<tr>")?;
        let blank = sheet.is_blank_key(r);
        for &i in cols {
            let c = &sheet.columns[i];
            match (blank, sheet.blank_key) {
                (true, Some(label)) if Some(i) == first_key => {
                    write!(out, "<td class=\"label\">{}</td>", esc(label))?
                }
                _ => write!(out, "<td{}>{}</td>", class(c), esc(&r[i]))?,
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>")?;
    if let Some(t) = &sheet.total {
        write!(out, "<tfoot><tr class=\"total\">")?;
        for (n, &i) in cols.iter().enumerate() {
            let c = &sheet.columns[i];
            let v = if n == 0 { "TOTAL" } else { t[i].as_str() };
            write!(out, "<td{}>{}</td>", class(c), esc(v))?;
        }
        writeln!(out, "</tr></tfoot>")?;
    }
    writeln!(out, "</table></div>")
}
