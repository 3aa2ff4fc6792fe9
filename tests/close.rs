//! Closing a period: reports frozen byte for byte, late edits as adjustments, reopen.

mod common;
use common::*;

fn report_bytes(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["contracts", "invoices"] {
        for format in ["csv", "json", "table"] {
            out.push(
                env.run(["report", kind, "--period", "2026-10", "--format", format])
                    .ok()
                    .stdout,
            );
        }
    }
    out
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
        r.stderr.contains("period 2026-10 is closed"),
        "{}",
        r.stderr
    );

    let adj = env
        .run(["report", "adjustments", "--period", "2026-10"])
        .ok();
    let rows = parse_csv(&adj.stdout);
    assert_eq!(rows.len(), 3, "{}", adj.stdout);
    let changed = rows
        .iter()
        .find(|r| r[0] == "changed")
        .expect("changed row");
    assert_eq!((changed[1].as_str(), changed[2].as_str()), ("10200", "1"));
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
fn adjustments_need_a_closed_period() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let r = env
        .run(["report", "adjustments", "--period", "2026-10"])
        .expect_code(1);
    assert!(r.stderr.contains("is not closed"), "{}", r.stderr);
}
