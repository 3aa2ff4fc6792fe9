//! Closing a period: reports frozen byte for byte, late edits as adjustments, reopen.

use crate::common;
use common::*;

fn report_bytes(env: &Env) -> Vec<String> {
    report_bytes_for(env, &["--period", "2026-10"])
}

/// Every report (contracts, invoices) in every format for the period `how`.
fn report_bytes_for(env: &Env, how: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["contracts", "invoices"] {
        for format in ["csv", "json", "table"] {
            let mut args = vec!["report", kind, "--format", format];
            args.extend(how);
            out.push(env.run(args).ok().stdout);
        }
    }
    out
}

/// A store of 3,000 generated actions (2026-09..2026-11) with October closed, then a
/// late edit to one October action.
fn closed_october_with_a_late_edit() -> Env {
    let env = Env::new();
    env.generated("3000", "12");
    env.run(["close", "--period", "2026-10"]).ok();
    let late = env.write(
        "late.ndjson",
        r#"{"id":1,"ticket_id":10200,"datetime":"2026-10-01T00:30:00Z","last_updated":"2027-01-05T00:00:00Z","timetaken":2.0,"actionchargehours":2.0,"actionchargeamount":250.00,"action_contract_id":101}"#,
    );
    env.import(&[&late]).ok();
    env
}

#[test]
fn a_from_to_range_equal_to_a_closed_month_gives_the_closed_months_bytes() {
    let env = closed_october_with_a_late_edit();
    assert_eq!(
        report_bytes_for(&env, &["--from", "2026-10-01", "--to", "2026-11-01"]),
        report_bytes(&env)
    );
}

#[test]
fn a_range_cutting_through_a_closed_period_is_refused_saying_how_to_ask() {
    let env = closed_october_with_a_late_edit();
    let r = env
        .run([
            "report",
            "contracts",
            "--from",
            "2026-10-15",
            "--to",
            "2026-11-15",
        ])
        .expect_code(1);
    assert!(
        r.stderr.contains("cuts through closed period 2026-10 (UTC"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("--period 2026-10 --timezone UTC"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn a_range_containing_a_closed_period_uses_its_frozen_copy_for_that_part() {
    let env = closed_october_with_a_late_edit();
    let total = |how: &[&str]| {
        let mut args = vec!["contracts"];
        args.extend(how);
        let rows = env.report_csv(args[0], &args[1..]);
        (
            column_sum(&rows, "actions"),
            column_sum(&rows, "chargeable_amount"),
        )
    };
    let (sa, sm) = total(&["--period", "2026-09"]);
    let (oa, om) = total(&["--period", "2026-10"]);
    let (na, nm) = total(&["--period", "2026-11"]);
    let (qa, qm) = total(&["--from", "2026-09-01", "--to", "2026-12-01"]);
    assert_eq!((qa, qm), (sa + oa + na, sm + om + nm));
    let r = env
        .run([
            "report",
            "contracts",
            "--from",
            "2026-09-01",
            "--to",
            "2026-12-01",
        ])
        .ok();
    assert!(
        r.stderr.contains("period 2026-10 (UTC) is closed"),
        "{}",
        r.stderr
    );
}

#[test]
fn closing_again_after_a_reopen_keeps_every_earlier_frozen_copy_and_hash() {
    let env = Env::new();
    env.generated("3000", "12");
    let first = env.run(["close", "--period", "2026-10"]).ok().stderr;
    env.run(["reopen", "--period", "2026-10", "--reason", "late invoice"])
        .ok();
    let second = env.run(["close", "--period", "2026-10"]).ok().stderr;
    let hash = |s: &str| {
        let after = s.split("sha256 ").nth(1).unwrap();
        after.split_whitespace().next().unwrap().to_string()
    };
    let files = std::fs::read_dir(env.store().join("closed"))
        .unwrap()
        .count();
    assert_eq!(files, 2, "both frozen copies kept");
    let st = env.run(["status", "--verify"]).ok().stdout;
    assert!(
        st.contains(&hash(&first)) && st.contains(&hash(&second)),
        "{st}"
    );
    assert!(st.contains("all 2 frozen copies of closes match"), "{st}");
}

#[test]
fn a_damaged_frozen_copy_is_refused_by_reports_and_by_status_verify() {
    let env = Env::new();
    env.generated("3000", "12");
    env.run(["close", "--period", "2026-10"]).ok();
    let dir = env.store().join("closed");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&file, bytes).unwrap();
    let r = env
        .run(["report", "contracts", "--period", "2026-10"])
        .expect_code(1);
    assert!(
        r.stderr
            .contains("does not match the hash recorded at its close"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "no figures from a damaged copy");
    let v = env.run(["status", "--verify"]).expect_code(1);
    assert!(
        v.stderr.contains("2026-10 (UTC) does not match"),
        "{}",
        v.stderr
    );
}

#[test]
fn a_close_in_another_zone_than_the_stores_is_refused_naming_both_zones() {
    let env = Env::new();
    env.generated("3000", "12");
    let first = env.run(["close", "--period", "2026-10"]).ok();
    assert!(
        first
            .stderr
            .contains("the store's reporting time zone is now UTC (set by its first close)"),
        "{}",
        first.stderr
    );
    let r = env
        .run([
            "close",
            "--period",
            "2026-11",
            "--timezone",
            "Europe/London",
        ])
        .expect_code(2);
    assert!(
        r.stderr.contains("this store reports in UTC")
            && r.stderr.contains("halo-billing close --period 2026-11`")
            && r.stderr.contains("Europe/London"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_late_edit_after_close_leaves_the_report_identical_and_shows_as_an_adjustment() {
    let env = Env::new();
    env.generated("3000", "12");
    let r = env.run(["close", "--period", "2026-10"]).ok();
    assert!(
        r.stderr
            .contains("closed 2026-10 (UTC): 1000 actions, sha256 "),
        "{}",
        r.stderr
    );
    let frozen = report_bytes(&env);

    // Late changes in Halo: action (10200, 1) re-priced and moved to contract 101, and a
    // new action on a new invoice.
    let late = env.write(
        "late.ndjson",
        concat!(
            r#"{"id":1,"ticket_id":10200,"datetime":"2026-10-01T00:30:00Z","last_updated":"2027-01-05T00:00:00Z","timetaken":2.0,"actionchargehours":2.0,"actionchargeamount":250.00,"action_contract_id":101,"action_contract_ref":"C-101-BLK"}"#,
            "\n",
            r#"{"id":9,"ticket_id":99999,"datetime":"2026-10-20T10:00:00Z","last_updated":"2027-01-05T00:00:00Z","timetaken":0.5,"actionchargehours":0.5,"actionchargeamount":62.50,"action_contract_id":101,"action_contract_ref":"C-101-BLK","actioninvoicenumber":"INV-LATE","invoice_id":7}"#,
            "\n"
        ),
    );
    env.import(&[&late]).ok();
    let after = report_bytes(&env);
    assert_eq!(after, frozen, "closed-period reports must not change");
    let r = env.run(["report", "contracts", "--period", "2026-10"]).ok();
    assert!(
        r.stderr.contains("period 2026-10 (UTC) is closed"),
        "{}",
        r.stderr
    );

    let adj = env
        .run(["report", "adjustments", "--period", "2026-10"])
        .ok();
    let rows = parse_csv(&adj.stdout);
    // The moved action is a credit to its old contract and a charge to the new one.
    assert_eq!(rows.len(), 4, "{}", adj.stdout);
    let from = rows
        .iter()
        .find(|r| r[0] == "moved from")
        .expect("credit row");
    let to = rows
        .iter()
        .find(|r| r[0] == "moved to")
        .expect("charge row");
    assert_eq!((from[1].as_str(), from[2].as_str()), ("10200", "1"));
    assert_eq!(cell(&rows, from, "actions"), "-1");
    assert_ne!(cell(&rows, from, "contract_id"), "101");
    for m in ["time_taken_hours", "chargeable_amount", "prepay_amount"] {
        let v: rust_decimal::Decimal = cell(&rows, from, m).parse().unwrap();
        assert!(v <= rust_decimal::Decimal::ZERO, "{m} of the credit: {v}");
    }
    let credited: rust_decimal::Decimal = cell(&rows, from, "time_taken_hours").parse().unwrap();
    assert!(
        credited < rust_decimal::Decimal::ZERO,
        "the credit carries the old figures"
    );
    assert_eq!(cell(&rows, to, "contract_id"), "101");
    assert_eq!(cell(&rows, to, "actions"), "1");
    assert_eq!(cell(&rows, to, "chargeable_amount"), "250.00");
    let new = rows.iter().find(|r| r[0] == "new").expect("new row");
    assert_eq!(cell(&rows, new, "chargeable_amount"), "62.50");
    assert_eq!(cell(&rows, new, "actions"), "1");

    // Per contract: the totals of the deltas equal the live report minus the frozen one.
    let by_c = parse_csv(
        &env.run([
            "report",
            "adjustments",
            "--period",
            "2026-10",
            "--by",
            "contract",
        ])
        .ok()
        .stdout,
    );
    let c101 = row(&by_c, "101");
    assert!(
        cell(&by_c, c101, "chargeable_amount")
            .parse::<rust_decimal::Decimal>()
            .unwrap()
            > rust_decimal::Decimal::ZERO
    );
    let by_i = parse_csv(
        &env.run([
            "report",
            "adjustments",
            "--period",
            "2026-10",
            "--by",
            "invoice",
        ])
        .ok()
        .stdout,
    );
    let frozen_c = parse_csv(&frozen[0]);
    env.run([
        "reopen",
        "--period",
        "2026-10",
        "--reason",
        "late edits billed in November",
    ])
    .ok();
    let live_c = env.report_csv("contracts", &["--period", "2026-10"]);
    for m in [
        "actions",
        "chargeable_amount",
        "prepay_amount",
        "non_chargeable_amount",
    ] {
        let delta = column_sum(&live_c, m) - column_sum(&frozen_c, m);
        assert_eq!(column_sum(&by_c, m), delta, "{m} by contract");
        assert_eq!(column_sum(&by_i, m), delta, "{m} by invoice");
    }
    assert_ne!(
        report_bytes(&env)[0],
        frozen[0],
        "reopened: live figures again"
    );
    let st = env.run(["status"]).ok();
    assert!(
        st.stdout.contains("reopened   2026-10 (UTC)"),
        "{}",
        st.stdout
    );
    assert!(
        st.stdout.contains("late edits billed in November"),
        "{}",
        st.stdout
    );
    // Closing again records a new close.
    env.run(["close", "--period", "2026-10"]).ok();
    let st = env.run(["status"]).ok();
    assert!(
        st.stdout.contains("closed     2026-10 (UTC) since"),
        "{}",
        st.stdout
    );
}

#[test]
fn adjustments_of_a_period_never_closed_exit_2_saying_so_and_how_to_close_it() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let r = env
        .run(["report", "adjustments", "--period", "2026-10"])
        .expect_code(2);
    assert!(
        r.stderr
            .contains("period 2026-10 (UTC) has never been closed")
            && r.stderr
                .contains("`halo-billing close --period 2026-10 --timezone UTC`")
            && !r.stderr.contains("manifest"),
        "{}",
        r.stderr
    );
}

#[test]
fn adjustments_come_in_every_format_with_totals_and_stay_available_after_a_reopen() {
    let env = closed_october_with_a_late_edit();
    env.run(["reopen", "--period", "2026-10", "--reason", "late edit"])
        .ok();
    let csv = |by: &str| {
        parse_csv(
            &env.run([
                "report",
                "adjustments",
                "--period",
                "2026-10",
                "--by",
                by,
                "--totals",
            ])
            .ok()
            .stdout,
        )
    };
    // The net of the per-action rows equals the net per contract and per invoice.
    let totals: Vec<Vec<String>> = ["action", "contract", "invoice"]
        .iter()
        .map(|by| {
            let rows = csv(by);
            let last = rows.last().unwrap().clone();
            assert_eq!(last[0], "TOTAL", "{rows:?}");
            let n = rows[0].iter().position(|h| h == "actions").unwrap();
            last[n..].to_vec()
        })
        .collect();
    assert_eq!(totals[0], totals[1]);
    assert_eq!(totals[0], totals[2]);
    let j = env
        .run([
            "report",
            "adjustments",
            "--period",
            "2026-10",
            "--format",
            "json",
        ])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert!(
        v["title"].as_str().unwrap().contains("reopened"),
        "{}",
        j.stdout
    );
    assert_eq!(v["rows"].as_array().unwrap().len(), 2, "{}", j.stdout);
    assert!(v["totals"]["chargeable_amount"].is_number());
    let t = env
        .run([
            "report",
            "adjustments",
            "--period",
            "2026-10",
            "--format",
            "table",
            "--by",
            "contract",
        ])
        .ok();
    assert!(
        t.stdout.lines().any(|l| l.starts_with("TOTAL")),
        "{}",
        t.stdout
    );
}

/// The zone a report was read in, from its JSON.
fn report_zone(env: &Env, extra: &[&str]) -> String {
    let mut args = vec!["report", "contracts", "--format", "json"];
    args.extend(extra);
    let out = env.run(args).ok().stdout;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["period"]["timezone"].as_str().unwrap().to_string()
}

#[test]
fn a_store_reports_closes_and_exports_in_the_zone_of_its_first_close() {
    let env = Env::new();
    env.generated("3000", "12");
    assert_eq!(report_zone(&env, &["--period", "2026-10"]), "UTC");
    env.run([
        "close",
        "--period",
        "2026-09",
        "--timezone",
        "Europe/London",
    ])
    .ok();
    let zone = env.run(["timezone"]).ok().stdout;
    assert!(
        zone.starts_with("Europe/London (set by its first close, 2026-09"),
        "{zone}"
    );
    // Every command now reads months in London: October starts where September's
    // close ends, so nothing is cut.
    assert_eq!(report_zone(&env, &["--period", "2026-10"]), "Europe/London");
    for kind in ["unbilled", "agents", "prepay", "leakage"] {
        env.run(["report", kind, "--period", "2026-10"]).ok();
    }
    env.run(["close", "--period", "2026-10"]).ok();
    let st = env.run(["status"]).ok().stdout;
    assert!(st.contains("2026-10 (Europe/London)"), "{st}");
    // Its zone cannot change while periods are closed in it.
    let r = env.run(["timezone", "UTC"]).expect_code(2);
    assert!(
        r.stderr
            .contains("periods are closed in another zone: 2026-09 (Europe/London)"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_range_in_another_zone_that_cuts_a_close_is_refused_naming_both_zones_and_the_command_that_works()
 {
    let env = Env::new();
    env.generated("3000", "12");
    env.run(["close", "--period", "2026-09"]).ok();
    // October in London begins an hour before September ends in UTC.
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--timezone",
            "Europe/London",
        ])
        .expect_code(1);
    assert!(
        r.stderr.contains(
            "It was closed in UTC, and this range was asked for in Europe/London: ask in UTC instead, `--period 2026-10 --timezone UTC` (the store's zone: leaving out --timezone does the same)"
        ),
        "{}",
        r.stderr
    );
    // The command it names works, and so does leaving the zone out.
    env.run([
        "report",
        "contracts",
        "--period",
        "2026-10",
        "--timezone",
        "UTC",
    ])
    .ok();
    assert_eq!(report_zone(&env, &["--period", "2026-10"]), "UTC");
}

#[test]
fn a_zone_set_before_the_first_close_is_the_one_closes_use() {
    let env = Env::new();
    env.generated("3000", "12");
    env.run(["timezone", "America/New_York"]).ok();
    env.run(["timezone", "Mars/Olympus"]).expect_code(2);
    let r = env.run(["close", "--period", "2026-10"]).ok();
    assert!(
        r.stderr.contains("closed 2026-10 (America/New_York)"),
        "{}",
        r.stderr
    );
    // A close asked for in another zone is refused, naming both.
    let r = env
        .run(["close", "--period", "2026-11", "--timezone", "UTC"])
        .expect_code(2);
    assert!(
        r.stderr.contains("this store reports in America/New_York"),
        "{}",
        r.stderr
    );
}
