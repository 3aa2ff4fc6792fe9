//! The HTML page (`report pack --format html`, `--format html`) in a real headless
//! browser: it loads offline without errors, draws its charts, and shows the CSV's
//! figures. Needs Debian's `chromium` (`.ci/run` installs it when missing; or set
//! CHROMIUM to a Chromium/Chrome binary).

use crate::common;
use common::*;
use std::process::Command;

fn chromium() -> String {
    let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "no `{bin}`: this test needs a headless browser (apt-get install chromium; .ci/run does)"
    );
    bin
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
    // Four charts drawn, as SVG the browser parsed.
    assert_eq!(dom.matches("<svg").count(), 4, "charts in the DOM");
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
    for (id, rows) in pairs {
        let shown = table(&dom, &format!("{id}-table"));
        let want: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| plain(c)).collect())
            .collect();
        assert_eq!(shown, want, "{id}");
        cells += want.iter().map(Vec::len).sum::<usize>();
    }
    assert!(cells > 300, "{cells} cells compared");
    // The unbilled chart's labels are the totals row's exact amounts.
    let unbilled = env.report_csv("unbilled", &["--period", "2026-10", "--totals"]);
    let total = unbilled.last().unwrap();
    let age = cell(&unbilled, total, "age_0_30_amount");
    assert!(dom.contains(&format!(">{age}<")), "the chart labels {age}");
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
