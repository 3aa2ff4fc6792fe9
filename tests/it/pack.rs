//! The month-end pack: `report unbilled`, `report agents`, `report actions` (drill-down).

use crate::common;
use common::*;
use rust_decimal::Decimal;

fn fixture(env: &Env) {
    let lines = [
        // Contract 7: unbilled work of several ages (to 2026-10-31), one invoiced, one free.
        r#"{"id":1,"ticket_id":1,"datetime":"2026-10-31T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","actionchargehours":1,"actionchargeamount":100,"timetaken":1,"who_agentid":5,"who":"Ann"}"#,
        r#"{"id":2,"ticket_id":1,"datetime":"2026-09-15T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","actionchargehours":0.5,"actionchargeamount":50,"timetaken":2,"who_agentid":5,"who":"Ann"}"#,
        r#"{"id":3,"ticket_id":1,"datetime":"2026-07-01T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","actionchargehours":0.25,"actionchargeamount":25.5,"timetaken":0.25,"who_agentid":6,"who":"Bo"}"#,
        r#"{"id":4,"ticket_id":1,"datetime":"2026-10-02T10:00:00Z","action_contract_id":7,"actionchargehours":3,"actionchargeamount":300,"actioninvoicenumber":"INV-1","invoice_id":9,"timetaken":3,"who_agentid":6,"who":"Bo"}"#,
        r#"{"id":5,"ticket_id":1,"datetime":"2026-10-03T10:00:00Z","action_contract_id":7,"actionnonchargehours":1,"timetaken":1,"who_agentid":5,"who":"Ann B."}"#,
        r#"{"id":6,"ticket_id":2,"datetime":"2026-10-04T10:00:00Z","actionprepayhours":1,"actionprepayamount":50,"timetaken":1,"who_agentid":5,"who":"Ann"}"#,
    ];
    let p = env.write("pack.ndjson", &(lines.join("\n") + "\n"));
    env.import(&[&p]).ok();
}

#[test]
fn unbilled_lists_chargeable_uninvoiced_work_by_contract_with_ages_that_add_up() {
    let env = Env::new();
    fixture(&env);
    let rows = env.report_csv("unbilled", &["--to", "2026-11-01"]);
    assert_eq!(
        rows[0].join(","),
        "contract_id,contract_ref,actions,oldest,newest,chargeable_hours,chargeable_amount,age_0_30_amount,age_31_60_amount,age_61_90_amount,age_over_90_amount,exported_amount"
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    let r = row(&rows, "7");
    assert_eq!(cell(&rows, r, "contract_ref"), "C-7");
    assert_eq!(cell(&rows, r, "actions"), "3");
    assert_eq!(cell(&rows, r, "oldest"), "2026-07-01");
    assert_eq!(cell(&rows, r, "newest"), "2026-10-31");
    assert_eq!(cell(&rows, r, "chargeable_hours"), "1.7500");
    assert_eq!(cell(&rows, r, "chargeable_amount"), "175.50");
    // 0 days, 46 days, 122 days before 2026-10-31.
    assert_eq!(cell(&rows, r, "age_0_30_amount"), "100.00");
    assert_eq!(cell(&rows, r, "age_31_60_amount"), "50.00");
    assert_eq!(cell(&rows, r, "age_61_90_amount"), "0.00");
    assert_eq!(cell(&rows, r, "age_over_90_amount"), "25.50");
    // A month alone holds only its own work.
    let oct = env.report_csv("unbilled", &["--period", "2026-10"]);
    assert_eq!(cell(&oct, row(&oct, "7"), "actions"), "1");
}

#[test]
fn agents_show_billable_share_and_effective_rate_from_exact_totals() {
    let env = Env::new();
    fixture(&env);
    let rows = env.report_csv("agents", &["--from", "2026-07-01", "--to", "2026-11-01"]);
    assert_eq!(
        rows[0].join(","),
        "agent_id,agent,actions,time_taken_hours,chargeable_hours,non_chargeable_hours,prepay_hours,chargeable_amount,prepay_amount,billable_percent,effective_rate"
    );
    let ann = row(&rows, "5");
    assert_eq!(
        cell(&rows, ann, "agent"),
        "Ann",
        "the name most actions carry"
    );
    assert_eq!(cell(&rows, ann, "time_taken_hours"), "5.0000");
    // (1 + 0.5 + 1 prepay) / 5 = 50.0 %; (100 + 50 + 50) / 2.5 h = 80.00 per hour.
    assert_eq!(cell(&rows, ann, "billable_percent"), "50.0");
    assert_eq!(cell(&rows, ann, "effective_rate"), "80.00");
    let bo = row(&rows, "6");
    // (0.25 + 3) / 3.25 = 100.0 %; 325.50 / 3.25 h = 100.15 per hour (100.1538...).
    assert_eq!(cell(&rows, bo, "billable_percent"), "100.0");
    assert_eq!(cell(&rows, bo, "effective_rate"), "100.15");
}

#[test]
fn the_actions_behind_every_line_sum_to_that_line_to_the_cent_and_the_millisecond() {
    let env = Env::new();
    env.generated("3000", "21");
    let period = ["--period", "2026-10"];
    // The drill-down's TOTAL row in integer units, for a filter.
    let behind = |filter: &[&str]| -> (Decimal, Vec<(String, i64)>) {
        let mut args = vec!["actions", "--raw", "--totals"];
        args.extend(period);
        args.extend(filter);
        let rows = env.report_csv(args[0], &args[1..]);
        let total = rows.last().unwrap();
        assert_eq!(total[0], "TOTAL");
        let sums = rows[0]
            .iter()
            .zip(total)
            .filter(|(h, _)| h.ends_with("_ms") || h.ends_with("_cents") || h.ends_with("_e4"))
            .map(|(h, v)| (h.clone(), v.parse::<i64>().unwrap()))
            .collect();
        (Decimal::from(rows.len() - 2), sums)
    };
    let shown = |name: &str, units: i64| -> String {
        let (scale, dp) = if name.ends_with("_ms") {
            (3_600_000i64, 4)
        } else if name.ends_with("_cents") {
            (100, 2)
        } else {
            (10_000, 4)
        };
        (Decimal::from(units) / Decimal::from(scale))
            .round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            .to_string()
    };
    let report_name = |units_col: &str| -> &'static str {
        match units_col {
            "timetaken_ms" => "time_taken_hours",
            "nonbilltime_ms" => "non_bill_hours",
            "traveltime_ms" => "travel_hours",
            "mileage_e4" => "mileage",
            "actionchargehours_ms" => "chargeable_hours",
            "actionchargeamount_cents" => "chargeable_amount",
            "actionnonchargehours_ms" => "non_chargeable_hours",
            "actionnonchargeamount_cents" => "non_chargeable_amount",
            "actionprepayhours_ms" => "prepay_hours",
            "actionprepayamount_cents" => "prepay_amount",
            _ => unreachable!(),
        }
    };
    let mut checked = 0;
    let mut check = |rows: &Vec<Vec<String>>, line: &Vec<String>, filter: Vec<&str>| {
        let (count, sums) = behind(&filter);
        assert_eq!(
            Decimal::from_str_exact(cell(rows, line, "actions")).unwrap(),
            count,
            "{filter:?}"
        );
        for (units_col, v) in sums {
            let name = report_name(&units_col);
            if let Some(i) = rows[0].iter().position(|h| h == name) {
                let want: Decimal = line[i].parse().unwrap();
                assert_eq!(
                    shown(&units_col, v).parse::<Decimal>().unwrap(),
                    want,
                    "{name} {filter:?}"
                );
            }
        }
        checked += 1;
    };
    let id = |v: &str| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.to_string()
        }
    };
    let contracts = env.report_csv("contracts", &period);
    for line in &contracts[1..] {
        let c = id(&line[0]);
        check(&contracts, line, vec!["--contract", c.as_str()]);
    }
    let invoices = env.report_csv("invoices", &period);
    for line in &invoices[1..] {
        let n = id(&line[0]);
        check(&invoices, line, vec!["--invoice", n.as_str()]);
    }
    let unbilled = env.report_csv("unbilled", &period);
    for line in &unbilled[1..] {
        let c = id(&line[0]);
        check(
            &unbilled,
            line,
            vec!["--contract", c.as_str(), "--unbilled"],
        );
    }
    let agents = env.report_csv("agents", &period);
    for line in &agents[1..] {
        let a = id(&line[0]);
        check(&agents, line, vec!["--agent", a.as_str()]);
    }
    assert!(checked > 20, "{checked} lines checked");
}

#[test]
fn drill_down_options_outside_report_actions_are_refused() {
    let env = Env::new();
    fixture(&env);
    let r = env
        .run(["report", "contracts", "--period", "2026-10", "--unbilled"])
        .expect_code(2);
    assert!(
        r.stderr.contains("apply to `report actions`"),
        "{}",
        r.stderr
    );
    let r = env
        .run([
            "report",
            "actions",
            "--period",
            "2026-10",
            "--contract",
            "x",
        ])
        .expect_code(2);
    assert!(
        r.stderr.contains("--contract `x` is not a whole number"),
        "{}",
        r.stderr
    );
}

#[test]
fn leakage_lists_actions_that_may_leak_revenue_with_the_reason() {
    let env = Env::new();
    let lines = [
        r#"{"id":1,"ticket_id":3,"datetime":"2026-10-05T10:00:00Z","action_contract_id":8,"action_contract_ref":"C-8","actionchargehours":1.5,"actionchargeamount":0,"timetaken":1.5,"who_agentid":5,"who":"Ann"}"#,
        r#"{"id":2,"ticket_id":3,"datetime":"2026-10-06T10:00:00Z","action_contract_id":8,"action_contract_ref":"C-8","actisbillable":true,"timetaken":2,"who_agentid":5,"who":"Ann"}"#,
        r#"{"id":3,"ticket_id":3,"datetime":"2026-10-07T10:00:00Z","action_contract_id":8,"actisbillable":true,"timetaken":1,"actionprepayhours":1,"actionprepayamount":90}"#,
        r#"{"id":4,"ticket_id":3,"datetime":"2026-10-08T10:00:00Z","action_contract_id":8,"actisbillable":true,"timetaken":1,"actionchargehours":1,"actionchargeamount":120}"#,
        r#"{"id":5,"ticket_id":4,"datetime":"2026-10-09T10:00:00Z","actisbillable":true,"timetaken":0.5}"#,
    ];
    let p = env.write("leak.ndjson", &(lines.join("\n") + "\n"));
    env.import(&[&p]).ok();
    let rows = env.report_csv("leakage", &["--period", "2026-10"]);
    assert_eq!(
        rows[0].join(","),
        "ticket_id,id,datetime,agent_id,agent,contract_id,contract_ref,time_taken_hours,chargeable_hours,chargeable_amount,prepay_hours,prepay_amount,reason"
    );
    let reasons: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[12].clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "3".into(),
                "1".into(),
                "charged_hours_without_amount".into()
            ),
            ("3".into(), "2".into(), "billable_not_charged".into()),
            ("4".into(), "5".into(), "billable_not_charged".into()),
        ]
    );
    let by = env.report_csv("leakage", &["--period", "2026-10", "--by", "contract"]);
    assert_eq!(
        by[0].join(","),
        "contract_id,contract_ref,reason,actions,time_taken_hours,chargeable_hours"
    );
    assert_eq!(by.len(), 4, "{by:?}");
    let c8: Vec<&Vec<String>> = by.iter().filter(|r| r[0] == "8").collect();
    assert_eq!(c8.len(), 2);
    assert!(
        c8.iter()
            .any(|r| r[2] == "billable_not_charged" && r[4] == "2.0000")
    );
    let r = env
        .run([
            "report", "leakage", "--period", "2026-10", "--by", "invoice",
        ])
        .expect_code(2);
    assert!(
        r.stderr
            .contains("--by action (the default) or --by contract"),
        "{}",
        r.stderr
    );
}

#[test]
fn prepay_burns_down_per_month_and_balances_say_which_blocks_to_top_up() {
    let env = Env::new();
    let lines = [
        // The store's history from New Year: the blocks' purchases are within it.
        r#"{"id":9,"ticket_id":1,"datetime":"2026-01-01T00:00:00Z","action_contract_id":999}"#,
        r#"{"id":1,"ticket_id":9,"datetime":"2026-09-10T10:00:00Z","action_contract_id":101,"action_contract_ref":"C-101-BLK","actionprepayhours":4,"actionprepayamount":400}"#,
        r#"{"id":2,"ticket_id":9,"datetime":"2026-10-05T10:00:00Z","action_contract_id":101,"action_contract_ref":"C-101-BLK","actionprepayhours":6,"actionprepayamount":600}"#,
        r#"{"id":3,"ticket_id":9,"datetime":"2026-10-20T10:00:00Z","action_contract_id":101,"action_contract_ref":"C-101-BLK","actionprepayhours":5,"actionprepayamount":500}"#,
        r#"{"id":4,"ticket_id":9,"datetime":"2026-10-21T10:00:00Z","action_contract_id":103,"actionprepayhours":3,"actionprepayamount":300}"#,
    ];
    let p = env.write("prepay.ndjson", &(lines.join("\n") + "\n"));
    env.import(&[&p]).ok();
    let rows = env.report_csv("prepay", &["--period", "2026-10"]);
    assert_eq!(
        rows[0].join(","),
        "contract_id,contract_ref,month,prepay_hours,prepay_amount,running_hours,running_amount"
    );
    let c101 = row(&rows, "101");
    assert_eq!(cell(&rows, c101, "month"), "2026-10");
    assert_eq!(cell(&rows, c101, "prepay_hours"), "11.0000");
    assert_eq!(cell(&rows, c101, "running_amount"), "1100.00");
    let balances = env.write(
        "balances.csv",
        "contract_id,date,hours,amount\n101,2026-01-01,20,2000\n102,2026-10-01,10,1000\n103,2026-08-01,2,200\n",
    );
    let b = balances.to_str().unwrap();
    let rows = env.report_csv("prepay", &["--period", "2026-10", "--balances", b]);
    let c101 = row(&rows, "101");
    // Every draw so far counts against the block: 4 h in September + 11 h in October.
    assert_eq!(cell(&rows, c101, "running_hours"), "15.0000");
    assert_eq!(cell(&rows, c101, "purchased_hours"), "20.0000");
    assert_eq!(cell(&rows, c101, "remaining_hours"), "5.0000");
    assert_eq!(cell(&rows, c101, "remaining_amount"), "500.00");
    assert_eq!(
        cell(&rows, c101, "status"),
        "ok",
        "5 h left is not below 20% of 20 h"
    );
    assert_eq!(cell(&rows, row(&rows, "102"), "status"), "ok");
    assert_eq!(cell(&rows, row(&rows, "103"), "status"), "overdrawn");
    let rows = env.report_csv(
        "prepay",
        &["--period", "2026-10", "--balances", b, "--low-below", "30%"],
    );
    assert_eq!(cell(&rows, row(&rows, "101"), "status"), "low");
    // A bad line is named with the file and the line.
    let bad = env.write(
        "bad.csv",
        "contract_id,date,hours,amount\n101,2026-01-01,20,2000\n101,2026-13-01,5,500\n",
    );
    let r = env
        .run([
            "report",
            "prepay",
            "--period",
            "2026-10",
            "--balances",
            bad.to_str().unwrap(),
        ])
        .expect_code(1);
    assert!(
        r.stderr
            .contains("bad.csv`, line 3: date `2026-13-01` is not a date"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_example_balances_file_is_valid() {
    let env = Env::new();
    env.generated("3000", "12");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reports/prepay-balances.example.csv");
    let rows = env.report_csv(
        "prepay",
        &[
            "--period",
            "2026-10",
            "--balances",
            example.to_str().unwrap(),
        ],
    );
    assert!(rows[0].contains(&"status".to_string()));
    assert!(rows.len() > 1);
}

#[test]
fn the_demo_shows_the_contracts_table_and_a_month_end_summary_and_writes_every_report() {
    let env = Env::new();
    let r = env.run(["-q", "demo"]).ok();
    assert!(
        r.stdout.contains("Totals per contract, 2026-10 (UTC)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Month-end summary, 2026-10:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("unbilled chargeable work: "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("possible revenue leakage: "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("prepaid blocks low or overdrawn: "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "invoice audit: 3 of 11 invoice(s) with a finding: 1 lines-differ, 1 missing, 1 voided"
        ),
        "the simulator's seeded discrepancies: {}",
        r.stdout
    );
    for name in [
        "contracts",
        "invoices",
        "unbilled",
        "agents",
        "leakage",
        "prepay",
        "audit",
        "xero",
    ] {
        let f = env.path(&format!("halo-billing-demo/{name}-2026-10.csv"));
        let text =
            std::fs::read_to_string(&f).unwrap_or_else(|_| panic!("{} missing", f.display()));
        assert!(text.lines().count() >= 1, "{name}");
    }
    // The export ran with a mapping of [defaults] only: the customers are Halo's.
    let mapping = std::fs::read_to_string(env.path("halo-billing-demo/mapping.toml")).unwrap();
    assert!(!mapping.contains("\n[contracts."), "{mapping}");
    let xero = std::fs::read_to_string(env.path("halo-billing-demo/xero-2026-10.csv")).unwrap();
    assert!(xero.contains("\nAcme Dental,"), "{xero}");
}

#[test]
fn drill_downs_list_hours_without_amount_amounts_without_hours_and_invoices_without_ids() {
    let env = Env::new();
    let lines = [
        // Contract 7, unbilled: hours without an amount, an amount without hours.
        r#"{"id":1,"ticket_id":5,"datetime":"2026-10-05T10:00:00Z","action_contract_id":7,"actionchargehours":1,"actionchargeamount":0,"timetaken":1}"#,
        r#"{"id":2,"ticket_id":5,"datetime":"2026-10-06T10:00:00Z","action_contract_id":7,"actionchargehours":0,"actionchargeamount":50,"timetaken":0.5}"#,
        // Invoice INV-9: one line without its invoice_id, one with it.
        r#"{"id":3,"ticket_id":5,"datetime":"2026-10-07T10:00:00Z","action_contract_id":7,"actionchargehours":1,"actionchargeamount":100,"actioninvoicenumber":"INV-9","timetaken":1}"#,
        r#"{"id":4,"ticket_id":5,"datetime":"2026-10-08T10:00:00Z","action_contract_id":7,"actionchargehours":2,"actionchargeamount":200,"actioninvoicenumber":"INV-9","invoice_id":12,"timetaken":2}"#,
        // Neither: free work, and another contract's unbilled work.
        r#"{"id":5,"ticket_id":5,"datetime":"2026-10-09T10:00:00Z","action_contract_id":7,"timetaken":3}"#,
        r#"{"id":6,"ticket_id":6,"datetime":"2026-10-09T11:00:00Z","action_contract_id":8,"actionchargehours":1,"actionchargeamount":10,"timetaken":1}"#,
    ];
    let p = env.write("drill.ndjson", &(lines.join("\n") + "\n"));
    env.import(&[&p]).ok();
    let ids = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["report", "actions", "--period", "2026-10"];
        args.extend(extra);
        env.report_csv_of(&args)[1..]
            .iter()
            .map(|r| r[1].clone())
            .collect()
    };
    assert_eq!(ids(&["--contract", "7", "--unbilled"]), ["1", "2"]);
    assert_eq!(ids(&["--unbilled"]), ["1", "2", "6"]);
    assert_eq!(ids(&["--invoice", "INV-9"]), ["3", "4"]);
    assert_eq!(ids(&["--contract", "7"]), ["1", "2", "3", "4", "5"]);
    // The unbilled report's line for contract 7 counts the same two actions.
    let unbilled = env.report_csv("unbilled", &["--period", "2026-10"]);
    assert_eq!(cell(&unbilled, row(&unbilled, "7"), "actions"), "2");
}

/// Generated data of 2026-10 and 2026-11 only, imported: the store's history starts in
/// October.
fn from_october(env: &Env) {
    env.run([
        "generate",
        "--actions",
        "2000",
        "--seed",
        "71",
        "--from",
        "2026-10",
        "--to",
        "2026-11",
        "--out",
        "gen",
    ])
    .ok();
    env.import(&[&env.path("gen")]).ok();
}

#[test]
fn prepay_balances_of_a_block_bought_before_the_stores_history_fail_strict_with_exit_5() {
    let env = Env::new();
    from_october(&env);
    env.write(
        "blocks.csv",
        "contract_id,date,hours,amount\n101,2026-09-01,40,4000.00\n",
    );
    let args = [
        "report",
        "prepay",
        "--period",
        "2026-11",
        "--balances",
        "blocks.csv",
        "--strict",
        "--out",
        "prepay.csv",
    ];
    let r = env.run(args).expect_code(5);
    assert!(
        r.stderr
            .contains("2026-09-01T00:00:00Z .. 2026-10-01T00:00:00Z")
            && r.stderr
                .contains("count every draw since the block was bought")
            && r.stderr.contains("nothing was written (--strict)"),
        "{}",
        r.stderr
    );
    assert!(!env.path("prepay.csv").exists());
    // Without --strict the report is written, and the gap is said.
    let r = env.run(&args[..6]).ok();
    assert!(r.stderr.contains("history from 2026-09-01"), "{}", r.stderr);
    // A block bought inside the store's history needs nothing more.
    env.write(
        "blocks.csv",
        "contract_id,date,hours,amount\n101,2026-10-15,40,4000.00\n",
    );
    env.run(args).ok();
    assert!(env.path("prepay.csv").exists());
}

#[test]
fn unbilled_with_no_start_fails_strict_saying_from_when_the_store_covers() {
    let env = Env::new();
    from_october(&env);
    let r = env
        .run(["report", "unbilled", "--to", "2026-12-01", "--strict"])
        .expect_code(5);
    assert!(
        r.stderr
            .contains("the range has no start and the store covers from 2026-10-")
            && r.stderr.contains("earlier work may exist"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    // With a start the store covers, it is complete.
    env.run([
        "report",
        "unbilled",
        "--from",
        "2026-10-15",
        "--to",
        "2026-12-01",
        "--strict",
    ])
    .ok();
}

#[test]
fn the_current_month_is_covered_up_to_now_not_failed_for_days_to_come() {
    use chrono::Datelike;
    let env = Env::new();
    let today = chrono::Utc::now().date_naive();
    let first = today.with_day(1).unwrap();
    // Two actions, on the month's first day and today: the import covers both days and
    // everything between.
    let page = format!(
        "{{\"ticket_id\":1,\"id\":1,\"datetime\":\"{first}T00:10:00Z\",\"timetaken\":1}}\n{{\"ticket_id\":1,\"id\":2,\"datetime\":\"{today}T00:10:00Z\",\"timetaken\":1}}\n"
    );
    let p = env.write("now.ndjson", &page);
    env.import(&[&p]).ok();
    let month = format!("{:04}-{:02}", today.year(), today.month());
    let r = env
        .run(["report", "contracts", "--period", &month, "--strict"])
        .ok();
    assert!(!r.stderr.contains("does not cover"), "{}", r.stderr);
    // The month before is not covered at all.
    let before = first.pred_opt().unwrap();
    let last = format!("{:04}-{:02}", before.year(), before.month());
    env.run(["report", "contracts", "--period", &last, "--strict"])
        .expect_code(5);
}
