//! The export register: no work is billed (or booked) twice, changed work is corrected,
//! and no export is written on half a history.

use crate::common;
use common::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Generated data (2026-09 .. 2026-11, imported) and a filled mapping for 2026-10 that
/// also invoices work without a contract and has DATEV's header numbers.
fn setup(seed: &str) -> Env {
    let env = Env::new();
    env.generated("3000", seed);
    let m = filled_mapping(&env, "2026-10");
    let mut text = std::fs::read_to_string(&m).unwrap();
    text.push_str(
        "\n[contracts.none]\ncustomer = \"Walk-in\"\n\n[datev]\nconsultant = 1001\nclient = 1\n",
    );
    env.write("m.toml", &text);
    env
}

fn export(env: &Env, format: &str, range: &[&str], out: &str, extra: &[&str]) -> Run {
    let mut args = vec!["export", format];
    args.extend(range);
    args.extend(["--mapping", "m.toml", "--out", out]);
    args.extend(extra);
    env.run(args)
}

const OCTOBER: &[&str] = &["--period", "2026-10"];

fn read(env: &Env, name: &str) -> Vec<Vec<String>> {
    parse_csv(&std::fs::read_to_string(env.path(name)).unwrap())
}

/// Each Xero document's total as Xero computes it: the sum of round(quantity x unit, 2).
fn xero_totals(rows: &[Vec<String>]) -> BTreeMap<String, Decimal> {
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in &rows[1..] {
        let line = (dec(&r[16]) * dec(&r[17])).round_dp(2);
        *out.entry(r[10].clone()).or_default() += line;
    }
    out
}

fn register(env: &Env) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(env.store().join("exports.json")).unwrap())
        .unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The chargeable total of `report unbilled` over `range`.
fn unbilled(env: &Env, range: &[&str]) -> Decimal {
    column_sum(&env.report_csv("unbilled", range), "chargeable_amount")
}

#[test]
fn the_same_export_again_writes_the_same_bytes_and_records_nothing_new() {
    let env = setup("61");
    let first = export(&env, "xero", OCTOBER, "x.csv", &[]).ok();
    assert!(
        first.stderr.contains("recorded as export 1"),
        "{}",
        first.stderr
    );
    let bytes = std::fs::read(env.path("x.csv")).unwrap();
    let reg = std::fs::read(env.store().join("exports.json")).unwrap();
    assert_eq!(
        xero_totals(&read(&env, "x.csv")).values().sum::<Decimal>(),
        unbilled(&env, OCTOBER),
        "the whole unbilled month is on it"
    );
    let again = export(&env, "xero", OCTOBER, "x.csv", &[]).ok();
    assert!(
        again.stderr.contains("export 1 written again unchanged"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read(env.path("x.csv")).unwrap(), bytes);
    assert_eq!(
        std::fs::read(env.store().join("exports.json")).unwrap(),
        reg,
        "nothing new recorded"
    );
    // Under another name, the same bytes too.
    export(&env, "xero", OCTOBER, "copy.csv", &[]).ok();
    assert_eq!(std::fs::read(env.path("copy.csv")).unwrap(), bytes);
}

#[test]
fn an_overlapping_export_leaves_out_work_already_exported() {
    let env = setup("62");
    export(&env, "xero", OCTOBER, "oct.csv", &[]).ok();
    let october = unbilled(&env, OCTOBER);
    let numbers: Vec<String> = xero_totals(&read(&env, "oct.csv")).into_keys().collect();
    let wider = ["--from", "2026-10-01", "--to", "2026-11-03"];
    let r = export(&env, "xero", &wider, "wide.csv", &[]).expect_code(6);
    // Said: how much was left out, and on which invoices.
    assert!(
        r.stderr.contains(&format!(
            "were exported before, {october} in all: left out of this export (already billed)"
        )),
        "{}",
        r.stderr
    );
    for n in numbers.iter().take(10) {
        assert!(r.stderr.contains(n.as_str()), "{n}: {}", r.stderr);
    }
    // Only November's first two days are on the new file: October is not billed twice.
    let wide = xero_totals(&read(&env, "wide.csv"));
    let nov = ["--from", "2026-11-01", "--to", "2026-11-03"];
    assert_eq!(wide.values().sum::<Decimal>(), unbilled(&env, &nov));
    assert!(wide.keys().all(|n| !numbers.contains(n)), "{wide:?}");
}

/// Rewrites stored actions as a later copy from Halo would: `edits` are
/// `(ticket_id, id, new amount, new contract)`; other billing fields stay.
fn edit(env: &Env, edits: &[(i64, i64, &str, Option<i64>)]) {
    let rows = env.report_csv_of(&[
        "query",
        "--period",
        "2026-10",
        "--raw",
        "SELECT ticket_id, id, datetime, chargerate, actionchargehours_ms, actionchargeamount_cents, action_contract_id, action_contract_ref FROM actions",
    ]);
    let mut page = String::new();
    for &(t, i, amount, contract) in edits {
        let r = rows[1..]
            .iter()
            .find(|r| r[0] == t.to_string() && r[1] == i.to_string())
            .unwrap_or_else(|| panic!("no action ({t}, {i})"));
        let hours = dec(&r[4]) / Decimal::from(3_600_000);
        let contract = contract.map_or(r[6].clone(), |c| c.to_string());
        page.push_str(&format!(
            "{{\"ticket_id\":{t},\"id\":{i},\"datetime\":\"{}\",\"chargerate\":{},\"timetaken\":{hours},\"actionchargehours\":{hours},\"actionchargeamount\":{amount},\"action_contract_id\":{contract},\"action_contract_ref\":{}}}\n",
            r[2],
            or_null(&r[3]),
            serde_json::Value::from(r[7].as_str())
        ));
    }
    let p = env.write("edit.ndjson", &page);
    env.import(&[&p]).ok();
}

/// A CSV cell as a JSON value: empty is null.
fn or_null(cell: &str) -> &str {
    if cell.is_empty() { "null" } else { cell }
}

/// Three unbilled October actions of three different contracts: `(ticket_id, id,
/// contract, amount)`.
fn three_actions(env: &Env) -> Vec<(i64, i64, i64, Decimal)> {
    let rows = env.report_csv_of(&[
        "report",
        "actions",
        "--period",
        "2026-10",
        "--unbilled",
        "--raw",
    ]);
    let mut out: Vec<(i64, i64, i64, Decimal)> = Vec::new();
    for r in &rows[1..] {
        let Ok(c) = cell(&rows, r, "contract_id").parse::<i64>() else {
            continue;
        };
        let amount = dec(cell(&rows, r, "actionchargeamount_cents")) / Decimal::from(100);
        if amount > Decimal::from(20) && out.iter().all(|o| o.2 != c) {
            out.push((r[0].parse().unwrap(), r[1].parse().unwrap(), c, amount));
        }
        if out.len() == 3 {
            break;
        }
    }
    assert_eq!(out.len(), 3, "three contracts with chargeable work");
    out
}

#[test]
fn exported_work_that_changed_is_billed_as_a_correction_naming_the_original_invoice() {
    let env = setup("63");
    export(&env, "xero", OCTOBER, "x.csv", &[]).ok();
    let [up, down, moved] = three_actions(&env).try_into().unwrap();
    // A fourth contract for the moved action: one that has no other work is not needed;
    // any other contract than its own will do.
    let to = if moved.2 == 100 { 101 } else { 100 };
    let ten = Decimal::from(10);
    edit(
        &env,
        &[
            (up.0, up.1, &(up.3 + ten).to_string(), None),
            (
                down.0,
                down.1,
                &(down.3 - Decimal::from(5)).to_string(),
                None,
            ),
            (moved.0, moved.1, &moved.3.to_string(), Some(to)),
        ],
    );
    let r = export(&env, "xero", OCTOBER, "fix.csv", &[]).expect_code(6);
    assert!(
        r.stderr.contains("3 exported action(s) changed since"),
        "{}",
        r.stderr
    );
    let invoices = xero_totals(&read(&env, "fix.csv"));
    let credits = xero_totals(&read(&env, "fix-credit-notes.csv"));
    let original = |c: i64| format!("HB-2026-10-{c}");
    // Raised: a correction invoice of the difference, naming the original.
    assert_eq!(invoices[&format!("{}-C1", original(up.2))], ten);
    // Lowered: a credit note of the difference (positive, as Xero imports credit notes).
    assert_eq!(
        credits[&format!("{}-CN1", original(down.2))],
        Decimal::from(5)
    );
    // Moved: credited on the old contract's invoice, billed on the new contract's next
    // free number (its first invoice went out already).
    assert_eq!(credits[&format!("{}-CN1", original(moved.2))], moved.3);
    assert_eq!(invoices[&format!("{}-2", original(to))], moved.3);
    let rows = read(&env, "fix.csv");
    let c1 = rows
        .iter()
        .find(|r| r[10] == format!("{}-C1", original(up.2)))
        .unwrap();
    assert_eq!(c1[11], format!("Correction to {}", original(up.2)));
    // Nothing else: the unchanged work is not billed again.
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    assert_eq!(credits.len(), 2, "{credits:?}");
    // The register holds it all: every unbilled cent of October is exported once.
    let rows = env.report_csv("unbilled", OCTOBER);
    assert_eq!(
        column_sum(&rows, "exported_amount"),
        column_sum(&rows, "chargeable_amount")
    );
    // Changed again: the next correction names the original invoice too.
    edit(&env, &[(up.0, up.1, &(up.3 + ten + ten).to_string(), None)]);
    export(&env, "xero", OCTOBER, "again.csv", &[]).expect_code(6);
    let rows = read(&env, "again.csv");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][10], format!("{}-C2", original(up.2)));
    assert_eq!(rows[1][11], format!("Correction to {}", original(up.2)));
    assert_eq!(xero_totals(&rows)[&rows[1][10]], ten);
}

#[test]
fn with_changed_refuse_an_export_of_changed_work_writes_nothing_and_lists_each_action() {
    let env = setup("64");
    export(&env, "xero", OCTOBER, "x.csv", &[]).ok();
    let [a, b, _] = three_actions(&env).try_into().unwrap();
    edit(
        &env,
        &[(a.0, a.1, "1.00", None), (b.0, b.1, "999.99", None)],
    );
    let r = export(&env, "xero", OCTOBER, "y.csv", &["--changed", "refuse"]).expect_code(7);
    for (t, i, c, amount) in [a, b] {
        assert!(
            r.stderr
                .contains(&format!("({t}, {i}): exported contract {c}, "))
                && r.stderr.contains(&format!(
                    "{amount:.2} on HB-2026-10-{c} -> now contract {c}"
                )),
            "{}",
            r.stderr
        );
    }
    assert!(r.stderr.contains("nothing was written"), "{}", r.stderr);
    assert!(!env.path("y.csv").exists());
    assert_eq!(register(&env)["exports"].as_array().unwrap().len(), 1);
}

#[test]
fn report_unbilled_says_how_much_of_each_row_is_already_exported() {
    let env = setup("65");
    let before = env.report_csv("unbilled", OCTOBER);
    assert_eq!(
        before[0].last().unwrap(),
        "exported_amount",
        "the last column"
    );
    assert_eq!(column_sum(&before, "exported_amount"), Decimal::ZERO);
    // Export the first half of October: each row's exported part is its first half.
    let half = ["--from", "2026-10-01", "--to", "2026-10-16"];
    export(&env, "xero", &half, "h.csv", &[]).ok();
    let after = env.report_csv("unbilled", OCTOBER);
    let first_half = env.report_csv("unbilled", &half);
    for r in &after[1..] {
        let want = first_half[1..]
            .iter()
            .find(|h| h[0] == r[0])
            .map_or(Decimal::ZERO, |h| {
                dec(cell(&first_half, h, "chargeable_amount"))
            });
        assert_eq!(
            dec(cell(&after, r, "exported_amount")),
            want,
            "row {:?}",
            r[0]
        );
    }
    // The total is the exact sum of its rows, in JSON too.
    let json = env
        .run([
            "report", "unbilled", "--period", "2026-10", "--format", "json",
        ])
        .ok()
        .stdout;
    let totals = json.lines().find(|l| l.contains("\"totals\"")).unwrap();
    let want = format!(
        "\"exported_amount\": {}}}",
        column_sum(&after, "exported_amount")
    );
    assert!(totals.contains(&want), "{totals}");
}

#[test]
fn exports_lists_the_register_and_a_withdrawn_export_is_billed_again() {
    let env = setup("66");
    export(&env, "xero", OCTOBER, "x.csv", &[]).ok();
    let bytes = std::fs::read(env.path("x.csv")).unwrap();
    let list = env.run(["exports"]).ok().stdout;
    assert!(
        list.contains("xero") && list.contains("2026-10 (UTC)"),
        "{list}"
    );
    assert!(
        list.contains(&format!("sha256 {}", sha256(&bytes))),
        "{list}"
    );
    assert!(list.contains("active"), "{list}");
    let show = env.run(["exports", "show", "1"]).ok().stdout;
    for n in xero_totals(&read(&env, "x.csv")).keys() {
        assert!(show.contains(n.as_str()), "{n}: {show}");
    }
    // Not withdrawn implicitly: a second export of the month bills nothing new.
    export(&env, "xero", OCTOBER, "again.csv", &[]).ok();
    assert_eq!(register(&env)["exports"].as_array().unwrap().len(), 1);
    // Withdrawn explicitly (never imported): its work and numbers are free again.
    env.run(["exports", "withdraw", "1"]).expect_code(2);
    env.run([
        "exports",
        "withdraw",
        "1",
        "--reason",
        "file never imported",
    ])
    .ok();
    let list = env.run(["exports"]).ok().stdout;
    assert!(
        list.contains("withdrawn") && list.contains("file never imported"),
        "{list}"
    );
    export(&env, "xero", OCTOBER, "redo.csv", &[]).ok();
    assert_eq!(
        std::fs::read(env.path("redo.csv")).unwrap(),
        bytes,
        "the same invoices, the same numbers"
    );
    let reg = register(&env);
    assert_eq!(reg["exports"].as_array().unwrap().len(), 2);
    assert!(reg["exports"][0]["withdrawn"]["reason"] == "file never imported");
}

/// DATEV bookings per invoice number (Belegfeld 1) in the files of `dir`, signed.
fn bookings(env: &Env, dir: &str) -> BTreeMap<String, Decimal> {
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for f in std::fs::read_dir(env.path(dir)).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
        for l in text.split("\r\n").skip(2).filter(|l| !l.is_empty()) {
            let f: Vec<&str> = l.split(';').collect();
            let amount = dec(&f[0].replace(',', "."));
            let signed = if f[1] == "\"S\"" { -amount } else { amount };
            *out.entry(f[10].trim_matches('"').to_string()).or_default() += signed;
        }
    }
    out
}

#[test]
fn datev_never_books_the_same_invoice_twice_and_books_a_change_as_the_difference() {
    let env = setup("67");
    export(&env, "datev", OCTOBER, "oct", &[]).ok();
    let wider = ["--from", "2026-10-01", "--to", "2026-11-03"];
    export(&env, "datev", &wider, "wide", &[]).expect_code(6);
    // Both exports together book each invoice's work of the wider range once.
    let mut all = bookings(&env, "oct");
    for (n, a) in bookings(&env, "wide") {
        *all.entry(n).or_default() += a;
    }
    let inv = env.report_csv("invoices", &wider);
    for r in &inv[1..] {
        let amount = dec(cell(&inv, r, "chargeable_amount"));
        if r[0].is_empty() || amount == Decimal::ZERO {
            continue;
        }
        assert_eq!(all.get(&r[0]).copied(), Some(amount), "invoice {}", r[0]);
    }
    // An invoiced action re-priced in Halo: booked again as the difference only.
    let rows = env.report_csv_of(&[
        "query",
        "--period",
        "2026-10",
        "--raw",
        "SELECT ticket_id, id, datetime, actionchargehours_ms, actionchargeamount_cents, action_contract_id, actioninvoicenumber, invoice_id FROM actions WHERE actioninvoicenumber IS NOT NULL AND actionchargeamount_cents > 1000",
    ]);
    let r = &rows[1];
    let amount = dec(&r[4]) / Decimal::from(100);
    let page = format!(
        "{{\"ticket_id\":{},\"id\":{},\"datetime\":\"{}\",\"actionchargehours\":1,\"actionchargeamount\":{},\"action_contract_id\":{},\"actioninvoicenumber\":\"{}\",\"invoice_id\":{}}}\n",
        r[0],
        r[1],
        r[2],
        amount - Decimal::from(7),
        or_null(&r[5]),
        r[6],
        r[7]
    );
    let p = env.write("late.ndjson", &page);
    env.import(&[&p]).ok();
    let fix = export(&env, "datev", OCTOBER, "fix", &[]).expect_code(6);
    assert!(fix.stderr.contains("1 correction(s)"), "{}", fix.stderr);
    let fixed = bookings(&env, "fix");
    assert_eq!(fixed.len(), 1, "{fixed:?}");
    assert_eq!(fixed[&r[6]], -Decimal::from(7));
}

#[test]
fn an_export_of_a_period_the_store_does_not_cover_writes_nothing_and_exits_5() {
    let env = setup("68");
    let r = export(&env, "xero", &["--period", "2025-11"], "gap.csv", &[]).expect_code(5);
    assert!(
        r.stderr.contains("the export was not written")
            && r.stderr
                .contains("halo-billing sync --from 2025-11-01 --to 2025-12-01"),
        "{}",
        r.stderr
    );
    assert!(!env.path("gap.csv").exists());
    // A range cut by the store's history: the same.
    let r = export(
        &env,
        "datev",
        &["--from", "2026-08-15", "--to", "2026-09-15"],
        "d",
        &[],
    )
    .expect_code(5);
    assert!(
        r.stderr.contains("2026-08-15T00:00:00Z .. 2026-09-01"),
        "{}",
        r.stderr
    );
    assert!(!env.path("d").exists());
    // Allowed explicitly, it is written and says so.
    let r = export(
        &env,
        "xero",
        &["--period", "2025-11"],
        "gap.csv",
        &["--allow-gaps"],
    )
    .ok();
    assert!(
        r.stderr.contains("written anyway: --allow-gaps"),
        "{}",
        r.stderr
    );
    assert!(env.path("gap.csv").exists());
}

#[test]
fn a_mapping_problem_in_defaults_is_reported_once_at_defaults() {
    let env = setup("69");
    let text = std::fs::read_to_string(env.path("m.toml"))
        .unwrap()
        .replace(
            "invoice_number = \"HB-{period}-{contract_id}\"",
            "invoice_number = \"HB-{period}-{contract}\"",
        );
    env.write("m.toml", &text);
    let r = export(&env, "xero", OCTOBER, "x.csv", &[]).expect_code(2);
    assert_eq!(
        r.stderr
            .matches("invoice_number: `HB-{period}-{contract}` names `{contract}`")
            .count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("[defaults] invoice_number"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("[contracts."), "{}", r.stderr);
}
