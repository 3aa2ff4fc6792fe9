//! `report`: exact figures, the CSV contract, periods and time zones, safe output.

use crate::common;
use common::*;

#[test]
fn twenty_minute_entries_sum_to_exactly_one_hour_and_noise_rounds_once() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(
        rows[0].join(","),
        "contract_id,contract_ref,actions,time_taken_hours,non_bill_hours,travel_hours,mileage,chargeable_hours,chargeable_amount,non_chargeable_hours,non_chargeable_amount,prepay_hours,prepay_amount"
    );
    let c9 = row(&rows, "9");
    assert_eq!(cell(&rows, c9, "time_taken_hours"), "1.0000");
    assert_eq!(cell(&rows, c9, "chargeable_hours"), "1.0000");
    // 41.666666666666664 is 41.67 per action, never re-rounded: 125.01, not 125.00.
    assert_eq!(cell(&rows, c9, "chargeable_amount"), "125.01");
    // -1 and 0 contract ids are "no contract"; 0.30000000000000004 h is 0.3 h.
    let none = row(&rows, "");
    assert_eq!(cell(&rows, none, "actions"), "2");
    assert_eq!(cell(&rows, none, "time_taken_hours"), "0.5000");
    assert_eq!(cell(&rows, none, "non_bill_hours"), "0.0000");
    assert_eq!(cell(&rows, none, "non_chargeable_amount"), "0.10");

    let inv = env.report_csv("invoices", &["--period", "2026-10"]);
    assert_eq!(inv[0][..3].join(","), "invoice_number,invoice_id,actions");
    // One row per invoice number even though one action lacked the invoice_id.
    let i1 = row(&inv, "INV-1");
    assert_eq!(cell(&inv, i1, "invoice_id"), "44");
    assert_eq!(cell(&inv, i1, "actions"), "2");
    assert_eq!(cell(&inv, row(&inv, ""), "actions"), "3");
}

#[test]
fn money_columns_add_up_and_contracts_and_invoices_show_identical_totals() {
    let env = Env::new();
    env.generated("6000", "11");
    let c = env.report_csv("contracts", &["--period", "2026-10"]);
    let i = env.report_csv("invoices", &["--period", "2026-10"]);
    assert_eq!(column_sum(&c, "actions"), rust_decimal::Decimal::from(2000));
    let totals = |kind: &str| -> Vec<String> {
        let t = env
            .run([
                "report", kind, "--period", "2026-10", "--format", "table", "--wide",
            ])
            .ok();
        let total = t.stdout.lines().find(|l| l.starts_with("TOTAL")).unwrap();
        let cells: Vec<String> = total.split_whitespace().map(str::to_string).collect();
        assert_eq!(cells.len(), 12, "{total}");
        cells
    };
    // Both reports of one period show the same totals, hours included.
    assert_eq!(totals("contracts"), totals("invoices"));
    for (kind, csv) in [("contracts", &c), ("invoices", &i)] {
        let cells = totals(kind);
        for (j, col) in csv[0][2..].iter().enumerate() {
            let shown: rust_decimal::Decimal = cells[1 + j].parse().unwrap();
            let sum = column_sum(csv, col);
            if col.ends_with("_hours") {
                // Rows are rounded one by one: the total is within half a unit per row.
                let bound =
                    rust_decimal::Decimal::new(5, 5) * rust_decimal::Decimal::from(csv.len() - 1);
                assert!(
                    (shown - sum).abs() <= bound,
                    "{kind} {col}: {shown} vs {sum}"
                );
            } else {
                assert_eq!(
                    shown, sum,
                    "{kind} {col}: money totals are the exact sum of rows"
                );
            }
        }
    }
}

#[test]
fn hours_rows_show_their_own_rounded_value_the_same_in_every_report() {
    let env = Env::new();
    // Contract 101: 28.83333 h in three entries; an invoice with 30 s of non-billable time.
    let p = env.write(
        "in.ndjson",
        concat!(
            r#"{"id":1,"ticket_id":1,"datetime":"2026-10-01T10:00:00Z","action_contract_id":101,"timetaken":10,"actioninvoicenumber":"INV-9","nonbilltime":0.008333333333333333}"#,
            "\n",
            r#"{"id":2,"ticket_id":1,"datetime":"2026-10-02T10:00:00Z","action_contract_id":101,"timetaken":10}"#,
            "\n",
            r#"{"id":3,"ticket_id":1,"datetime":"2026-10-03T10:00:00Z","action_contract_id":101,"timetaken":8.83333}"#,
            "\n",
            r#"{"id":4,"ticket_id":1,"datetime":"2026-10-03T10:00:00Z","action_contract_id":102,"timetaken":0.00005}"#,
            "\n",
            r#"{"id":5,"ticket_id":1,"datetime":"2026-10-03T10:00:00Z","action_contract_id":103,"timetaken":0.00005}"#,
            "\n"
        ),
    );
    env.import(&[&p]).ok();
    let c = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(cell(&c, row(&c, "101"), "time_taken_hours"), "28.8333");
    // 0.00005 h is 180 ms: each row shows 0.0001 on its own.
    assert_eq!(cell(&c, row(&c, "102"), "time_taken_hours"), "0.0001");
    assert_eq!(cell(&c, row(&c, "103"), "time_taken_hours"), "0.0001");
    let i = env.report_csv("invoices", &["--period", "2026-10"]);
    assert_eq!(cell(&i, row(&i, "INV-9"), "non_bill_hours"), "0.0083");
    let shown = |format: &str| {
        env.run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            format,
        ])
        .ok()
        .stdout
    };
    let t = shown("table");
    assert!(t.contains("rounded to 0.0001 h on its own"), "{t}");
    let v: serde_json::Value = serde_json::from_str(&shown("json")).unwrap();
    assert!(v["rounding"].as_str().unwrap().contains("on its own"));
    // The total is the exact total rounded: 28.83333 + 0.0001 h = 28.8334.
    assert_eq!(v["totals"]["time_taken_hours"].to_string(), "28.8334");
}

#[test]
fn text_cells_are_safe_in_spreadsheets_and_numbers_stay_numbers() {
    let env = Env::new();
    let p = env.write(
        "in.ndjson",
        concat!(
            r#"{"id":1,"ticket_id":1,"datetime":"2026-10-01T10:00:00Z","action_contract_id":5,"action_contract_ref":"=HYPERLINK(\"http://evil\")","actionchargeamount":10.5}"#,
            "\n",
            r#"{"id":2,"ticket_id":1,"datetime":"2026-10-01T10:00:00Z","action_contract_id":6,"action_contract_ref":"+SUM(A1)","actioninvoicenumber":"@INV","actionchargeamount":1}"#,
            "\n"
        ),
    );
    env.import(&[&p]).ok();
    let c = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(
        cell(&c, row(&c, "5"), "contract_ref"),
        "'=HYPERLINK(\"http://evil\")"
    );
    assert_eq!(cell(&c, row(&c, "6"), "contract_ref"), "'+SUM(A1)");
    assert_eq!(cell(&c, row(&c, "5"), "chargeable_amount"), "10.50");
    let i = env.report_csv("invoices", &["--period", "2026-10"]);
    assert!(i.iter().any(|r| r[0] == "'@INV"), "{i:?}");
}

#[test]
fn periods_follow_the_time_zone_and_undated_actions_are_reported() {
    let env = Env::new();
    let p = env.write(
        "in.ndjson",
        concat!(
            // 23:30 UTC on 31 October is already November in Berlin.
            r#"{"id":1,"ticket_id":1,"datetime":"2026-10-31T23:30:00Z","timetaken":1.0}"#,
            "\n",
            r#"{"id":2,"ticket_id":1,"datetime":"2026-10-15T12:00:00Z","timetaken":2.0}"#,
            "\n",
            r#"{"id":3,"ticket_id":1,"datetime":"1900-01-01T00:00:00","timetaken":4.0}"#,
            "\n",
            r#"{"id":4,"ticket_id":1,"timetaken":8.0}"#,
            "\n"
        ),
    );
    env.import(&[&p]).ok();
    let utc = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(cell(&utc, row(&utc, ""), "time_taken_hours"), "3.0000");
    let berlin = env.report_csv(
        "contracts",
        &["--period", "2026-10", "--timezone", "Europe/Berlin"],
    );
    assert_eq!(
        cell(&berlin, row(&berlin, ""), "time_taken_hours"),
        "2.0000"
    );
    let nov = env.report_csv(
        "contracts",
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-01",
            "--timezone",
            "Europe/Berlin",
        ],
    );
    assert_eq!(cell(&nov, row(&nov, ""), "time_taken_hours"), "1.0000");
    let r = env.run(["report", "contracts", "--period", "2026-10"]).ok();
    assert!(
        r.stderr
            .contains("2 action(s) in the store have no usable datetime"),
        "{}",
        r.stderr
    );
}

#[test]
fn json_output_is_valid_and_exact() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "json",
        ])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert_eq!(v["totals"]["actions"], 5);
    assert!(
        r.stdout.contains("\"chargeable_amount\": 125.01"),
        "{}",
        r.stdout
    );
}

#[test]
fn out_file_is_written_whole_or_not_at_all() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    env.run([
        "report", "invoices", "--period", "2026-10", "--out", "inv.csv",
    ])
    .ok();
    assert!(
        std::fs::read_to_string(env.path("inv.csv"))
            .unwrap()
            .starts_with("invoice_number,")
    );
    // A folder that cannot be made (a file stands in its place): the error names it,
    // and nothing half-written is left.
    let r = env
        .run([
            "report",
            "invoices",
            "--period",
            "2026-10",
            "--out",
            "inv.csv/inv.csv",
        ])
        .expect_code(1);
    assert!(r.stderr.contains("cannot write `inv.csv`"), "{}", r.stderr);
    assert!(
        std::fs::read_dir(env.dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp"))
    );
}

#[test]
fn usage_errors_name_the_value() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let r = env
        .run(["report", "contracts", "--period", "2026-13"])
        .expect_code(2);
    assert!(
        r.stderr.contains("period `2026-13` is not a month"),
        "{}",
        r.stderr
    );
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--timezone",
            "Mars/Base",
        ])
        .expect_code(2);
    assert!(
        r.stderr.contains("`Mars/Base` is not an IANA time zone"),
        "{}",
        r.stderr
    );
    let r = env.run(["report", "contracts"]).expect_code(2);
    assert!(r.stderr.contains("--period"), "{}", r.stderr);
}

#[test]
fn an_empty_store_says_how_to_fill_it() {
    let env = Env::new();
    std::fs::create_dir_all(env.store()).unwrap();
    let r = env
        .run(["report", "contracts", "--period", "2026-10"])
        .expect_code(1);
    assert!(
        r.stderr.contains(
            "holds no actions yet; fill it with `halo-billing sync --period YYYY-MM` (from Halo's API) or `halo-billing import PATH`"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_period_the_store_does_not_cover_is_named_and_strict_writes_nothing() {
    let env = Env::new();
    env.generated("3000", "12"); // 2026-09 .. 2026-11
    let r = env.run(["report", "contracts", "--period", "2026-08"]).ok();
    assert!(
        r.stderr.contains(
            "the store does not cover 2026-08-01T00:00:00Z .. 2026-09-01T00:00:00Z of this period"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("halo-billing sync --from 2026-08-01 --to 2026-09-01"),
        "{}",
        r.stderr
    );
    // A covered period says so under the table and in JSON, and warns nothing.
    let t = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "table",
        ])
        .ok();
    assert!(
        t.stdout
            .contains("coverage: the store covers the whole period"),
        "{}",
        t.stdout
    );
    assert!(!t.stderr.contains("does not cover"), "{}", t.stderr);
    let j = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-08",
            "--format",
            "json",
        ])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["coverage"]["complete"], false);
    assert_eq!(v["coverage"]["gaps"][0]["from"], "2026-08-01T00:00:00Z");
    // --strict: nothing is written, and the exit code says why.
    let s = env
        .run(["report", "contracts", "--period", "2026-08", "--strict"])
        .expect_code(5);
    assert!(s.stdout.is_empty(), "{}", s.stdout);
    assert!(
        s.stderr.contains("does not cover") && s.stderr.contains("nothing was written (--strict)"),
        "{}",
        s.stderr
    );
    for kind in ["contracts", "unbilled", "agents"] {
        env.run([
            "report", kind, "--period", "2026-08", "--strict", "--out", "gap.csv",
        ])
        .expect_code(5);
        assert!(!env.path("gap.csv").exists(), "{kind}: no file");
    }
    env.run(["report", "contracts", "--period", "2026-10", "--strict"])
        .ok();
}

#[test]
fn the_table_fits_the_terminal_width_unless_wide_and_labels_blank_keys() {
    let env = Env::new();
    env.generated("3000", "12");
    let narrow = env.run_with_env(
        &[
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "table",
        ],
        &[("COLUMNS", "80")],
    );
    assert_eq!(narrow.code, 0, "{}", narrow.stderr);
    for l in narrow.stdout.lines() {
        assert!(l.chars().count() <= 80, "wider than 80: {l:?}");
    }
    assert!(narrow.stdout.contains("(no contract)"), "{}", narrow.stdout);
    assert!(narrow.stdout.contains("--wide"), "{}", narrow.stdout);
    let head = narrow.stdout.lines().nth(1).unwrap();
    assert!(
        head.contains("charge") && !head.contains("time h"),
        "{head}"
    );
    let wide = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "table",
            "--wide",
        ])
        .ok();
    assert!(wide.stdout.contains("time_taken_hours"), "{}", wide.stdout);
    let inv = env
        .run([
            "report", "invoices", "--period", "2026-10", "--format", "table",
        ])
        .ok();
    assert!(inv.stdout.contains("(not invoiced)"), "{}", inv.stdout);
}

#[test]
fn csv_gets_a_totals_row_another_delimiter_and_a_decimal_comma() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let plain = env.report_csv("contracts", &["--period", "2026-10"]);
    let with = env.report_csv("contracts", &["--period", "2026-10", "--totals"]);
    let last = with.last().unwrap();
    assert_eq!(last[0], "TOTAL");
    assert_eq!(
        cell(&with, last, "chargeable_amount")
            .parse::<rust_decimal::Decimal>()
            .unwrap(),
        column_sum(&plain, "chargeable_amount")
    );
    let eu = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--delimiter",
            ";",
            "--decimal-comma",
        ])
        .ok();
    assert!(eu.stdout.contains(";125,01;"), "{}", eu.stdout);
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--decimal-comma",
        ])
        .expect_code(2);
    assert!(
        r.stderr.contains("--decimal-comma needs another delimiter"),
        "{}",
        r.stderr
    );
}

#[test]
fn json_labels_blank_keys_and_says_when_figures_come_from_a_close() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let json = |env: &Env| -> serde_json::Value {
        let r = env
            .run([
                "report",
                "contracts",
                "--period",
                "2026-10",
                "--format",
                "json",
            ])
            .ok();
        serde_json::from_str(&r.stdout).unwrap()
    };
    let v = json(&env);
    assert_eq!(v["closed"], false);
    let blank = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["contract_id"].is_null())
        .unwrap();
    assert_eq!(blank["label"], "(no contract)");
    let c = env.run(["close", "--period", "2026-10"]).ok();
    let hash = c.stderr.split("sha256 ").nth(1).unwrap();
    let hash = hash.split_whitespace().next().unwrap().to_string();
    let v = json(&env);
    assert_eq!(v["closed"], true);
    assert_eq!(v["closes"][0]["sha256"], hash.as_str());
}
