//! Sheets as one self-contained HTML page (`--format html`, `report pack`): each
//! sheet's table with the very cells its CSV has (text HTML-escaped instead of
//! formula-neutralised), its notes and coverage, and its chart ([`super::chart`]) where
//! people would rather look than read. No script, no style sheet or font from the
//! network: the file opens anywhere, offline.

use crate::report::safe;
use crate::report::sheet::Sheet;
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

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2330}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2.5rem}\
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}\
th,td{border-bottom:1px solid #dde1e8;padding:.25rem .6rem;text-align:left;white-space:nowrap}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
tr.total td{font-weight:600;border-top:2px solid #1d2330}\
p.note{color:#5a6272;font-size:.8rem;margin:.2rem 0}figure{margin:.5rem 0}\
nav a{margin-right:1rem}div.t{overflow-x:auto}";

/// Writes one page of `sheets` under `title`, a section each (its id the report's
/// name), linked from the top when there are several.
pub fn page(title: &str, sheets: &[&Sheet], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        out,
        "<title>{}</title><style>{STYLE}</style></head><body>",
        esc(title)
    )?;
    writeln!(out, "<h1>{}</h1>", esc(title))?;
    if sheets.len() > 1 {
        let links: Vec<String> = sheets
            .iter()
            .map(|s| format!("<a href=\"#{0}\">{0}</a>", esc(&s.report)))
            .collect();
        writeln!(out, "<nav>{}</nav>", links.join(""))?;
    }
    for s in sheets {
        writeln!(out, "<section id=\"{}\">", esc(&s.report))?;
        writeln!(out, "<h2>{}</h2>", esc(&s.title))?;
        match super::chart::svg(s) {
            Ok(Some(svg)) => writeln!(out, "<figure>{svg}</figure>")?,
            Ok(None) => {}
            Err(e) => writeln!(out, "<p class=\"note\">(no chart: {})</p>", esc(&e))?,
        }
        table(s, out)?;
        for n in s.notes.iter().chain(Some(&s.scope.coverage)) {
            if !n.is_empty() {
                writeln!(out, "<p class=\"note\">{}</p>", esc(n))?;
            }
        }
        writeln!(out, "</section>")?;
    }
    writeln!(out, "</body></html>")
}

fn table(sheet: &Sheet, out: &mut dyn Write) -> io::Result<()> {
    let class = |number: bool| if number { " class=\"n\"" } else { "" };
    writeln!(
        out,
        "<div class=\"t\"><table id=\"{}-table\"><thead><tr>",
        esc(&sheet.report)
    )?;
    for c in &sheet.columns {
        write!(
            out,
            "<th{}>{}</th>",
            class(c.kind.is_number()),
            esc(&c.name)
        )?;
    }
    writeln!(out, "</tr></thead><tbody>")?;
    for r in &sheet.rows {
        write!(out, "<tr>")?;
        for (v, c) in r.iter().zip(&sheet.columns) {
            write!(out, "<td{}>{}</td>", class(c.kind.is_number()), esc(v))?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>")?;
    if let Some(t) = &sheet.total {
        write!(out, "<tfoot><tr class=\"total\">")?;
        for (i, (v, c)) in t.iter().zip(&sheet.columns).enumerate() {
            let v = if i == 0 { "TOTAL" } else { v.as_str() };
            write!(out, "<td{}>{}</td>", class(c.kind.is_number()), esc(v))?;
        }
        writeln!(out, "</tr></tfoot>")?;
    }
    writeln!(out, "</table></div>")
}
