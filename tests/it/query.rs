//! `query`: SQL over the store, figures exact.

use crate::common;
use common::*;

const BY_CONTRACT: &str = "SELECT action_contract_id, COUNT(*) AS actions, \
     SUM(actionchargeamount_cents) AS chargeable_cents, SUM(timetaken_ms) AS time_taken_ms \
     FROM actions WHERE action_contract_id IS NOT NULL \
     GROUP BY action_contract_id ORDER BY action_contract_id";

#[test]
fn a_query_over_the_period_matches_the_contracts_report_to_the_cent() {
    let env = Env::new();
    env.generated("3000", "12");
    let q = env.report_csv_of(&["query", "--period", "2026-10", BY_CONTRACT]);
    assert_eq!(
        q[0].join(","),
        "action_contract_id,actions,chargeable_amount,time_taken_hours"
    );
    let c = env.report_csv("contracts", &["--period", "2026-10"]);
    for line in &q[1..] {
        let r = row(&c, &line[0]);
        assert_eq!(cell(&c, r, "actions"), line[1], "contract {}", line[0]);
        assert_eq!(
            cell(&c, r, "chargeable_amount"),
            line[2],
            "contract {}",
            line[0]
        );
        assert_eq!(
            cell(&c, r, "time_taken_hours"),
            line[3],
            "contract {}",
            line[0]
        );
    }
    assert!(q.len() > 5);
    // --raw keeps the integer units and their names.
    let raw = env.report_csv_of(&["query", "--period", "2026-10", "--raw", BY_CONTRACT]);
    assert_eq!(raw[0][2], "chargeable_cents");
    assert!(raw[1][2].parse::<i64>().is_ok(), "{:?}", raw[1]);
}

#[test]
fn a_query_file_runs_and_a_broken_one_exits_2_with_the_query_and_the_message() {
    let env = Env::new();
    env.generated("3000", "12");
    let f = env.write("by-contract.sql", BY_CONTRACT);
    let q = env.report_csv_of(&["query", "--period", "2026-10", f.to_str().unwrap()]);
    assert_eq!(q[0][0], "action_contract_id");
    let bad = env.write("bad.sql", "SELECT nosuchcolumn FROM actions");
    let r = env
        .run(["query", "--period", "2026-10", bad.to_str().unwrap()])
        .expect_code(2);
    assert!(r.stderr.contains("the query failed: "), "{}", r.stderr);
    assert!(r.stderr.contains("nosuchcolumn"), "{}", r.stderr);
    assert!(
        r.stderr.contains("query: SELECT nosuchcolumn FROM actions"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_column_is_named_with_the_tables_columns_and_polars_parse_trees_are_cut_short() {
    let env = Env::new();
    env.generated("200", "8");
    let r = env
        .run(["query", "--period", "2026-10", "SELECT nosuch FROM actions"])
        .expect_code(2);
    assert!(
        r.stderr.contains(r#"unable to find column "nosuch""#),
        "{}",
        r.stderr
    );
    // polars lists only the columns read (those the query names); the message lists the
    // table's.
    assert!(
        r.stderr.contains("`actions` has: id, ticket_id,")
            && r.stderr.contains("actionchargeamount_cents"),
        "{}",
        r.stderr
    );
    let r = env
        .run([
            "query",
            "--period",
            "2026-10",
            "SELECT COUNT(*) AS n FROM actions WHERE NOT EXISTS (SELECT 1 FROM actions WHERE id = -5)",
        ])
        .expect_code(2);
    assert!(
        r.stderr.contains("is not currently supported"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Exists {"), "{}", r.stderr);
    // polars' own message prints the whole parse tree (thousands of characters).
    assert!(
        r.stderr.len() < 700,
        "{} characters: {}",
        r.stderr.len(),
        r.stderr
    );
}
