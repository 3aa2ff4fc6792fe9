//! The HTML page (`report pack --format html`, `--format html`) in a real headless
//! browser: it loads offline without errors, draws its charts, and shows the CSV's
//! figures. Needs Debian's `chromium` (`.ci/run` installs it when missing; or set
//! CHROMIUM to a Chromium/Chrome binary).

use crate::common;
use common::*;
use std::process::Command;

fn chromium() -> String {
    runnable(
        std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into()),
        &["--version"],
        "a headless browser (apt-get install chromium; .ci/run does)",
    )
}

/// Runs headless Chromium on `file` with `args`; returns (stdout, stderr).
fn browse(file: &std::path::Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The cells of the table `id` in an HTML text: header row first, then body rows (the
/// totals row left out).
fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let end = start + html[start..].find("</table>").unwrap();
    let body = &html[start..end];
    let body = &body[..body.find("<tfoot").unwrap_or(body.len())];
    let mut rows = Vec::new();
    for tr in body.split("<tr").skip(1) {
        let mut cells = Vec::new();
        let mut rest = tr;
        while let Some(open) = rest.find("<t") {
            let after = &rest[open + 2..];
            if !(after.starts_with('d') || after.starts_with('h')) {
                rest = after;
                continue;
            }
            let gt = after.find('>').unwrap();
            let close = after.find("</t").unwrap();
            cells.push(unescape(&after[gt + 1..close]));
            rest = &after[close + 3..];
        }
        if !cells.is_empty() {
            rows.push(cells);
        }
    }
    rows
}

/// A CSV cell as the page shows it: without the spreadsheet neutralisation's quote.
fn plain(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

/// Every table of a section (`{id}-table`, `{id}-table-2`, ...) read back by column
/// (each header's `data-col`, the CSV's name) into the CSV's shape: the header row of
/// names, then the rows. A row's blank key shows its label (`(no contract)`), which
/// stands for the CSV's empty key here.
fn section_rows(html: &str, id: &str, label: &str) -> Vec<Vec<String>> {
    let mut columns: Vec<(String, Vec<String>)> = Vec::new();
    let mut k = 1;
    loop {
        let tid = if k == 1 {
            format!("{id}-table")
        } else {
            format!("{id}-table-{k}")
        };
        let Some(start) = html.find(&format!("<table id=\"{tid}\"")) else {
            break;
        };
        let end = start + html[start..].find("</table>").unwrap();
        let chunk = &html[start..end];
        let names: Vec<String> = chunk
            .split("data-col=\"")
            .skip(1)
            .map(|t| unescape(&t[..t.find('"').unwrap()]))
            .collect();
        let rows = table(html, &tid);
        for (c, name) in names.iter().enumerate() {
            if columns.iter().any(|(n, _)| n == name) {
                continue; // a key repeated in a detail table
            }
            let cells = rows[1..]
                .iter()
                .map(|r| {
                    if r[c] == label {
                        String::new()
                    } else {
                        r[c].clone()
                    }
                })
                .collect();
            columns.push((name.clone(), cells));
        }
        k += 1;
    }
    assert!(!columns.is_empty(), "no table {id}");
    let n = columns[0].1.len();
    let mut out = vec![columns.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()];
    for r in 0..n {
        out.push(columns.iter().map(|(_, c)| c[r].clone()).collect());
    }
    out
}

/// `rows` (a CSV, header first) with its columns in `order`.
fn reorder(rows: &[Vec<String>], order: &[String]) -> Vec<Vec<String>> {
    let at: Vec<usize> = order
        .iter()
        .map(|n| {
            rows[0]
                .iter()
                .position(|h| h == n)
                .unwrap_or_else(|| panic!("no column {n}"))
        })
        .collect();
    rows.iter()
        .map(|r| at.iter().map(|&i| r[i].clone()).collect())
        .collect()
}

/// What a probe script measures of `page` in the browser at 1,400 px: the page's and
/// every table container's overflow, and overlapping chart labels. The page itself has
/// no script; the probe runs on a copy.
fn probe(page: &std::path::Path) -> serde_json::Value {
    let html = std::fs::read_to_string(page).unwrap();
    let script = r#"<script>
const out = {page_overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth, tables: [], overlaps: [], labels: 0};
for (const d of document.querySelectorAll('div.t')) { out.tables.push(d.scrollWidth - d.clientWidth); }
for (const svg of document.querySelectorAll('svg')) {
  const boxes = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim() !== '').map(t => [t.textContent, t.getBoundingClientRect()]);
  out.labels += boxes.length;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, r] = boxes[i], [b, q] = boxes[j];
    if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1) out.overlaps.push(a + ' / ' + b);
  }
}
const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script></body>"#;
    let probed = page.with_extension("probe.html");
    std::fs::write(&probed, html.replace("</body>", script)).unwrap();
    let (dom, log) = browse(&probed, &["--dump-dom", "--window-size=1400,900"]);
    let start = dom
        .find("<pre id=\"probe\">")
        .unwrap_or_else(|| panic!("no probe: {log}"));
    let text = &dom[start + 16..];
    let text = &text[..text.find("</pre>").unwrap()];
    serde_json::from_str(&unescape(text)).unwrap()
}

/// The text of `page` printed to PDF, A4 landscape as its style sheet asks.
fn printed(page: &std::path::Path) -> String {
    let pdf = page.with_extension("pdf");
    let (_, log) = browse(
        page,
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
        ],
    );
    assert!(pdf.exists(), "no PDF: {log}");
    let o = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; .ci/run installs it)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a page fits 1,400 px without a horizontal scrollbar anywhere, that its chart
/// labels do not overlap, and that its print shows every column's header.
fn fits_and_prints(page: &std::path::Path, headers: &[String]) {
    let p = probe(page);
    assert!(p["page_overflow"].as_i64().unwrap() <= 0, "{page:?}: {p}");
    for t in p["tables"].as_array().unwrap() {
        assert!(t.as_i64().unwrap() <= 0, "{page:?}: a table scrolls: {p}");
    }
    assert!(
        p["overlaps"].as_array().unwrap().is_empty(),
        "{page:?}: labels overlap: {p}"
    );
    let text: String = printed(page)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for h in headers {
        // A header may wrap over lines (and at a hyphen): each of its words is printed.
        for w in h.split([' ', '-']).filter(|w| !w.is_empty()) {
            assert!(text.contains(w), "{page:?}: the print lacks `{w}` of `{h}`");
        }
    }
}

#[test]
fn the_month_end_page_loads_offline_in_a_browser_with_charts_and_the_csv_figures() {
    let env = Env::new();
    env.generated("3000", "61");
    env.run([
        "report",
        "pack",
        "--period",
        "2026-10",
        "--format",
        "html",
        "--out",
        "pack.html",
    ])
    .ok();
    let page = env.path("pack.html");
    let file = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing fetched, nothing run.
    for banned in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
    ] {
        assert!(!file.contains(banned), "the page holds `{banned}`");
    }
    let (dom, log) = browse(&page, &["--dump-dom"]);
    for bad in ["Uncaught", "Failed to load resource", "ERR_FILE_NOT_FOUND"] {
        assert!(!log.contains(bad), "browser log: {log}");
    }
    // Three charts drawn, as SVG the browser parsed: amounts per contract, unbilled by
    // age, billable share (prepay has no balances here, and a month's draws say no more
    // than the table).
    assert_eq!(dom.matches("<svg").count(), 3, "charts in the DOM");
    // Every table the browser holds equals the CSV of the same report.
    let csv = |args: &[&str]| env.report_csv_of(args);
    let pairs: [(&str, Vec<Vec<String>>); 6] = [
        (
            "contracts",
            csv(&["report", "contracts", "--period", "2026-10"]),
        ),
        (
            "invoices",
            csv(&["report", "invoices", "--period", "2026-10"]),
        ),
        (
            "unbilled",
            csv(&["report", "unbilled", "--period", "2026-10"]),
        ),
        ("prepay", csv(&["report", "prepay", "--period", "2026-10"])),
        ("agents", csv(&["report", "agents", "--period", "2026-10"])),
        (
            "leakage",
            csv(&[
                "report", "leakage", "--period", "2026-10", "--by", "contract",
            ]),
        ),
    ];
    let mut cells = 0;
    let mut headers = Vec::new();
    for (id, rows) in pairs {
        let label = match id {
            "invoices" => "(not invoiced)",
            "agents" => "(no agent)",
            _ => "(no contract)",
        };
        let shown = section_rows(&dom, id, label);
        let want: Vec<Vec<String>> = reorder(&rows, &shown[0])
            .iter()
            .map(|r| r.iter().map(|c| plain(c)).collect())
            .collect();
        assert_eq!(shown, want, "{id}");
        assert_eq!(
            shown[0].len(),
            rows[0].len(),
            "{id}: every column is on the page"
        );
        cells += want.iter().map(Vec::len).sum::<usize>();
        // People read the headers; the CSV's names stay in `data-col`.
        let start = dom.find(&format!("<section id=\"{id}\"")).unwrap();
        let section = &dom[start..start + dom[start..].find("</section>").unwrap()];
        for name in &rows[0] {
            let human = section
                .split(&format!("data-col=\"{name}\">"))
                .nth(1)
                .map(|t| unescape(&t[..t.find('<').unwrap()]))
                .unwrap_or_else(|| panic!("{id}: no header for {name}"));
            assert!(!human.contains('_'), "{id}: `{human}` is not a field name");
            headers.push(human);
        }
    }
    assert!(cells > 300, "{cells} cells compared");
    assert!(
        dom.contains("<td class=\"label\">(no contract)</td>"),
        "labelled rows"
    );
    assert!(dom.contains(">Chargeable amount<") && dom.contains(">Age 61-90 days<"));
    // One title: the pack's heading has no coverage sentence glued on.
    assert_eq!(dom.matches("<h1>").count(), 1);
    assert!(
        dom.contains("<h1>Month-end pack, 2026-10 (UTC)</h1>"),
        "{dom}"
    );
    // The unbilled chart's labels are the totals row's exact amounts, written as money.
    let unbilled = env.report_csv("unbilled", &["--period", "2026-10", "--totals"]);
    let total = unbilled.last().unwrap();
    let age = cell(&unbilled, total, "age_0_30_amount");
    let (int, frac) = age.split_once('.').unwrap();
    let grouped: String = int
        .chars()
        .rev()
        .collect::<Vec<_>>()
        .chunks(3)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(",")
        .chars()
        .rev()
        .collect();
    let label = format!("{grouped}.{frac}");
    assert!(
        dom.contains(&format!(">{label}<")) || dom.contains(&format!(">\n{label}\n<")),
        "the chart labels {label}"
    );
    headers.sort();
    headers.dedup();
    fits_and_prints(&page, &headers);
    // A screenshot is taken (a real render, not an empty image).
    let shot = env.path("pack.png");
    let (_, log) = browse(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,3000",
        ],
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20_000, "screenshot of {size} bytes; log: {log}");
}

#[test]
fn html_of_a_single_report_is_one_page_with_its_chart_and_pack_needs_html() {
    let env = Env::new();
    env.generated("1000", "62");
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "html",
        ])
        .ok();
    assert!(r.stdout.starts_with("<!DOCTYPE html>"));
    assert_eq!(r.stdout.matches("<svg").count(), 1);
    assert!(r.stdout.contains("<table id=\"contracts-table\""));
    let e = env
        .run(["report", "pack", "--period", "2026-10"])
        .expect_code(2);
    assert!(e.stderr.contains("--format html"), "{}", e.stderr);
}

#[test]
fn every_reports_html_fits_1400_px_prints_every_header_on_a4_landscape_and_has_one_title() {
    let env = Env::new();
    env.generated("3000", "63");
    env.write(
        "b.csv",
        "contract_id,date,hours,amount\n101,2026-09-01,100,9000\n105,2026-09-01,20,1500\n",
    );
    for args in [
        vec!["contracts"],
        vec!["invoices"],
        vec!["unbilled"],
        vec!["agents"],
        vec!["leakage"],
        vec!["prepay", "--balances", "b.csv"],
        vec!["actions", "--contract", "101"],
        vec!["charge-rates"],
    ] {
        let name = args[0];
        let out = format!("{name}.html");
        let mut all = vec!["report"];
        all.extend(&args);
        all.extend(["--period", "2026-10", "--format", "html", "--out", &out]);
        env.run(&all).ok();
        let page = env.path(&out);
        let html = std::fs::read_to_string(&page).unwrap();
        assert_eq!(html.matches("<h1>").count(), 1, "{name}");
        assert_eq!(
            html.matches("<h2>").count(),
            0,
            "{name}: one title per page"
        );
        let headers: Vec<String> = html
            .split("data-col=\"")
            .skip(1)
            .map(|t| unescape(&t[t.find('>').unwrap() + 1..t.find('<').unwrap()]))
            .collect();
        assert!(headers.len() >= 5, "{name}: {headers:?}");
        assert!(
            headers.iter().all(|h| !h.contains('_')),
            "{name}: {headers:?}"
        );
        fits_and_prints(&page, &headers);
    }
}

#[test]
fn a_reference_of_any_length_wraps_and_never_widens_the_page() {
    let env = Env::new();
    let long = "R".repeat(400);
    let p = env.write(
        "a.ndjson",
        &format!(
            "{{\"id\":1,\"ticket_id\":1,\"datetime\":\"2026-10-05T10:00:00Z\",\"action_contract_id\":7,\"action_contract_ref\":\"{long}\",\"actionchargehours\":1,\"actionchargeamount\":10,\"actioninvoicenumber\":\"{long}\"}}\n"
        ),
    );
    env.import(&[&p]).ok();
    for name in ["contracts", "invoices"] {
        let out = format!("{name}.html");
        env.run([
            "report", name, "--period", "2026-10", "--format", "html", "--out", &out,
        ])
        .ok();
        let page = env.path(&out);
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains(&long), "{name}: the text is whole");
        let headers: Vec<String> = html
            .split("data-col=\"")
            .skip(1)
            .map(|t| unescape(&t[t.find('>').unwrap() + 1..t.find('<').unwrap()]))
            .collect();
        fits_and_prints(&page, &headers);
    }
}
