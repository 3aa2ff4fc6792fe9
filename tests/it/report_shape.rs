//! One report shape: every report's JSON holds to the one schema of `reports/README.md`,
//! its CSV has the same columns and rows, and its table fits 100 terminal columns.

use crate::common;

use common::{Env, parse_csv};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The column types of the schema.
const TYPES: [&str; 11] = [
    "id", "text", "count", "integer", "money", "hours", "mileage", "percent", "date", "datetime",
    "number",
];

/// The members of the schema's top-level object, all required, no others.
const MEMBERS: [&str; 12] = [
    "report",
    "title",
    "period",
    "closed",
    "closes",
    "coverage",
    "undated_actions_in_store",
    "columns",
    "rows",
    "totals",
    "notes",
    "rounding",
];

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or(format!("{what} is not an object: {v}"))
}

fn string<'a>(v: Option<&'a Value>, what: &str) -> Result<&'a str, String> {
    v.and_then(Value::as_str)
        .ok_or(format!("{what} is not a string: {v:?}"))
}

fn keys(o: &Map<String, Value>, want: &[&str], what: &str) -> Result<(), String> {
    let mut have: Vec<&str> = o.keys().map(String::as_str).collect();
    let mut want = want.to_vec();
    have.sort();
    want.sort();
    if have != want {
        return Err(format!("{what} has members {have:?}, the schema {want:?}"));
    }
    Ok(())
}

/// An RFC 3339 instant in UTC, as the schema writes them (`...Z`).
fn is_instant(s: &str) -> bool {
    s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

fn is_date(s: &str) -> bool {
    s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// A cell of a column of type `ty`: null, or a number for a number type, else a string in
/// the type's form.
fn cell(v: &Value, ty: &str, what: &str) -> Result<(), String> {
    let fits = match (ty, v) {
        (_, Value::Null) => true,
        ("text", Value::String(_)) => true,
        ("date", Value::String(s)) => is_date(s),
        ("datetime", Value::String(s)) => is_instant(s),
        ("id" | "count" | "integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("money" | "hours" | "mileage" | "percent" | "number", Value::Number(_)) => true,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("{what} is {v}, not a `{ty}` cell"))
    }
}

/// A row (or the totals row) against the columns: a member per column of its type, and
/// at most a `label` string besides.
fn row(v: &Value, columns: &[(String, String)], what: &str) -> Result<(), String> {
    let o = object(v, what)?;
    for (name, ty) in columns {
        let c = o
            .get(name)
            .ok_or(format!("{what} has no member `{name}`"))?;
        cell(c, ty, &format!("{what}.{name}"))?;
    }
    for k in o.keys() {
        if k == "label" {
            string(o.get(k), &format!("{what}.label"))?;
        } else if !columns.iter().any(|(n, _)| n == k) {
            return Err(format!("{what} has `{k}`, which is not a column"));
        }
    }
    Ok(())
}

/// Checks one report's JSON against the schema; returns its columns (name, type).
fn validate(json: &str) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let top = object(&v, "the report")?;
    keys(top, &MEMBERS, "the report")?;
    string(top.get("report"), "report")?;
    if string(top.get("title"), "title")?.is_empty() {
        return Err("the title is empty".into());
    }
    let period = object(&top["period"], "period")?;
    keys(period, &["label", "timezone", "from", "to"], "period")?;
    string(period.get("label"), "period.label")?;
    string(period.get("timezone"), "period.timezone")?;
    if !period["from"].is_null() && !is_instant(string(period.get("from"), "period.from")?) {
        return Err(format!("period.from is {}", period["from"]));
    }
    if !is_instant(string(period.get("to"), "period.to")?) {
        return Err(format!("period.to is {}", period["to"]));
    }
    let closes = top["closes"].as_array().ok_or("closes is not an array")?;
    if top["closed"].as_bool() != Some(!closes.is_empty()) {
        return Err(format!(
            "closed is {} with {} close(s)",
            top["closed"],
            closes.len()
        ));
    }
    for (i, c) in closes.iter().enumerate() {
        let what = format!("closes[{i}]");
        let o = object(c, &what)?;
        keys(
            o,
            &["period", "timezone", "closed_at", "actions", "sha256"],
            &what,
        )?;
        string(o.get("period"), &what)?;
        string(o.get("timezone"), &what)?;
        if !is_instant(string(o.get("closed_at"), &what)?) {
            return Err(format!("{what}.closed_at is {}", o["closed_at"]));
        }
        o["actions"]
            .as_u64()
            .ok_or(format!("{what}.actions is {}", o["actions"]))?;
        let sha = string(o.get("sha256"), &what)?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{what}.sha256 is `{sha}`"));
        }
    }
    let cov = object(&top["coverage"], "coverage")?;
    keys(cov, &["complete", "gaps", "text"], "coverage")?;
    let gaps = cov["gaps"]
        .as_array()
        .ok_or("coverage.gaps is not an array")?;
    if cov["complete"].as_bool() != Some(gaps.is_empty()) {
        return Err(format!(
            "coverage.complete is {} with {} gap(s)",
            cov["complete"],
            gaps.len()
        ));
    }
    for (i, g) in gaps.iter().enumerate() {
        let what = format!("coverage.gaps[{i}]");
        let o = object(g, &what)?;
        keys(o, &["from", "to"], &what)?;
        if !o["from"].is_null() && !is_instant(string(o.get("from"), &what)?) {
            return Err(format!("{what}.from is {}", o["from"]));
        }
        if !is_instant(string(o.get("to"), &what)?) {
            return Err(format!("{what}.to is {}", o["to"]));
        }
    }
    string(cov.get("text"), "coverage.text")?;
    top["undated_actions_in_store"]
        .as_u64()
        .ok_or("undated_actions_in_store is not a count")?;
    let mut columns = Vec::new();
    for (i, c) in top["columns"]
        .as_array()
        .ok_or("columns is not an array")?
        .iter()
        .enumerate()
    {
        let what = format!("columns[{i}]");
        let o = object(c, &what)?;
        keys(o, &["name", "type", "key"], &what)?;
        let name = string(o.get("name"), &what)?.to_string();
        let ty = string(o.get("type"), &what)?.to_string();
        if !TYPES.contains(&ty.as_str()) {
            return Err(format!(
                "{what} `{name}` has type `{ty}`, not one of {TYPES:?}"
            ));
        }
        o["key"]
            .as_bool()
            .ok_or(format!("{what}.key is not true/false"))?;
        if columns.iter().any(|(n, _)| *n == name) {
            return Err(format!("column `{name}` twice"));
        }
        columns.push((name, ty));
    }
    if columns.is_empty() {
        return Err("no columns".into());
    }
    for (i, r) in top["rows"]
        .as_array()
        .ok_or("rows is not an array")?
        .iter()
        .enumerate()
    {
        row(r, &columns, &format!("rows[{i}]"))?;
    }
    if !top["totals"].is_null() {
        row(&top["totals"], &columns, "totals")?;
    }
    for n in top["notes"].as_array().ok_or("notes is not an array")? {
        string(Some(n), "a note")?;
    }
    string(top.get("rounding"), "rounding")?;
    Ok(columns)
}

/// The rows' cells as JSON wrote them (their exact text).
#[derive(serde::Deserialize)]
struct RawRows {
    rows: Vec<BTreeMap<String, Box<RawValue>>>,
}

/// A store of generated actions over 2026-09..2026-11 with September closed and then
/// changed (for `adjustments`), and a user report in `my-reports/`.
fn store() -> Env {
    let env = Env::new();
    env.generated("3000", "26");
    env.run(["close", "--period", "2026-09"]).ok();
    let late = env.write(
        "late.ndjson",
        r#"{"id":9,"ticket_id":10001,"datetime":"2026-09-03T10:00:00.123Z","last_updated":"2027-01-05T00:00:00Z","timetaken":1.5,"actionchargehours":1.5,"actionchargeamount":187.50,"action_contract_id":101}"#,
    );
    env.import(&[&late]).ok();
    // Halo's invoices for the audit: one the actions name, with a time line and a fee.
    let invoices = env.write(
        "invoices.json",
        r#"{"record_count":2,"invoices":[{"id":2610101,"invoicenumber":"INV-202610-0101","client_name":"Acme Dental","invoice_date":"2026-10-31T00:00:00","posted":true,
"lines":[{"id":1,"ticket_id":10001,"net_amount":100.0},{"id":2,"ticket_id":-1,"net_amount":250.0}]},
{"id":-2610,"invoicenumber":"","invoice_date":"2026-10-31T00:00:00","lines":[]}]}"#,
    );
    env.import(&[&invoices]).ok();
    env.write(
        "balances.csv",
        "contract_id,date,hours,amount\n101,2026-09-01,100,9000\n102,2026-10-15,20.5,1500.50\n",
    );
    env.write(
        "my-reports/agent-charges.toml",
        r#"
title = "Chargeable work per agent"
sort = ["agent_id"]
columns = [
  { name = "agent_id", type = "integer" },
  { name = "actions", type = "integer", total = true },
  { name = "chargeable_hours", type = "hours" },
  { name = "chargeable_amount", type = "money" },
]
"#,
    );
    env.write(
        "my-reports/agent-charges.sql",
        "SELECT who_agentid AS agent_id, COUNT(*) AS actions, \
         SUM(actionchargehours_ms) AS chargeable_hours, SUM(actionchargeamount_cents) AS chargeable_amount \
         FROM actions WHERE who_agentid IS NOT NULL GROUP BY who_agentid",
    );
    env
}

/// Every report the product has, each as the arguments that run it without a format: the
/// built-in ones (with their variants), those defined by files, and `query`.
fn every_report() -> Vec<Vec<&'static str>> {
    let p = ["--period", "2026-10"];
    let mut all: Vec<Vec<&str>> = Vec::new();
    for r in [
        "contracts",
        "invoices",
        "unbilled",
        "agents",
        "leakage",
        "prepay",
        "actions",
        "charge-rates",
        "audit",
    ] {
        all.push([&["report", r][..], &p].concat());
        // A closed period, and a range over a closed and an open one.
        all.push(vec!["report", r, "--period", "2026-09"]);
        all.push(vec![
            "report",
            r,
            "--from",
            "2026-09-01",
            "--to",
            "2026-11-01",
        ]);
    }
    all.extend([
        vec![
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--engine",
            "sql",
        ],
        vec![
            "report", "invoices", "--period", "2026-10", "--engine", "sql",
        ],
        // A range with no start.
        vec!["report", "unbilled", "--to", "2026-11-01"],
        vec![
            "report",
            "prepay",
            "--period",
            "2026-10",
            "--balances",
            "balances.csv",
        ],
        vec![
            "report", "leakage", "--period", "2026-10", "--by", "contract",
        ],
        vec!["report", "actions", "--period", "2026-10", "--raw"],
        vec!["report", "audit", "--period", "2026-10", "--findings-only"],
        vec![
            "report",
            "actions",
            "--period",
            "2026-10",
            "--contract",
            "none",
        ],
        vec![
            "report",
            "charge-rates",
            "--period",
            "2026-10",
            "--param",
            "contract=101",
        ],
        vec!["report", "adjustments", "--period", "2026-09"],
        vec![
            "report",
            "adjustments",
            "--period",
            "2026-09",
            "--by",
            "contract",
        ],
        vec![
            "report",
            "adjustments",
            "--period",
            "2026-09",
            "--by",
            "invoice",
        ],
        vec![
            "report",
            "agent-charges",
            "--period",
            "2026-10",
            "--reports-dir",
            "my-reports",
        ],
        vec![
            "query",
            "--period",
            "2026-10",
            "SELECT action_contract_id, SUM(actionchargeamount_cents) AS c_cents, \
             AVG(timetaken_ms) AS avg_ms, MIN(datetime) AS first, COUNT(*) AS n \
             FROM actions GROUP BY 1 ORDER BY 1",
        ],
        vec![
            "query",
            "--to",
            "2026-11-01",
            "SELECT id, ticket_id, datetime FROM actions ORDER BY ticket_id, id LIMIT 40",
        ],
    ]);
    all
}

fn with_format<'a>(args: &[&'a str], format: &'a str) -> Vec<&'a str> {
    let mut a = args.to_vec();
    a.extend(["--format", format]);
    a
}

#[test]
fn every_reports_json_holds_to_the_one_schema_with_the_csvs_columns_rows_and_cells() {
    let env = store();
    for args in every_report() {
        let json = env.run(with_format(&args, "json")).ok().stdout;
        let columns = validate(&json).unwrap_or_else(|e| panic!("{args:?}: {e}\n{json}"));
        let csv = parse_csv(&env.run(with_format(&args, "csv")).ok().stdout);
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            csv[0], names,
            "{args:?}: the CSV header is the JSON's columns"
        );
        let raw: RawRows = serde_json::from_str(&json).unwrap();
        assert_eq!(
            raw.rows.len(),
            csv.len() - 1,
            "{args:?}: the JSON's rows are the CSV's"
        );
        // Every number is the CSV's text, digit for digit (exact, never a float's rounding).
        for (r, line) in raw.rows.iter().zip(&csv[1..]) {
            for ((name, ty), text) in columns.iter().zip(line) {
                let j = r[name].get();
                if ty != "text" && ty != "date" && ty != "datetime" && j != "null" {
                    assert_eq!(j, text, "{args:?}: `{name}` in JSON and CSV");
                }
            }
        }
    }
}

#[test]
fn the_schema_check_refuses_money_as_a_string_a_missing_member_and_an_unknown_type() {
    let env = store();
    let good = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "json",
        ])
        .ok()
        .stdout;
    validate(&good).unwrap();
    let mut v: Value = serde_json::from_str(&good).unwrap();
    v["rows"][0]["chargeable_amount"] = Value::String("12.50".into());
    let e = validate(&v.to_string()).unwrap_err();
    assert!(e.contains("not a `money` cell"), "{e}");
    let mut v: Value = serde_json::from_str(&good).unwrap();
    v.as_object_mut().unwrap().remove("coverage");
    let e = validate(&v.to_string()).unwrap_err();
    assert!(e.contains("has members"), "{e}");
    let mut v: Value = serde_json::from_str(&good).unwrap();
    v["columns"][0]["type"] = Value::String("float".into());
    let e = validate(&v.to_string()).unwrap_err();
    assert!(e.contains("has type `float`"), "{e}");
}

/// The widest line, in characters as a terminal shows them.
fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn every_reports_table_fits_100_columns_and_wide_shows_every_csv_column() {
    let env = store();
    for args in every_report() {
        let table = env
            .run_with_env(&with_format(&args, "table"), &[("COLUMNS", "100")])
            .ok()
            .stdout;
        assert!(
            widest(&table) <= 100,
            "{args:?}: a line of {} characters\n{table}",
            widest(&table)
        );
        let mut wide = with_format(&args, "table");
        wide.push("--wide");
        let wide = env.run_with_env(&wide, &[("COLUMNS", "100")]).ok().stdout;
        let header = &parse_csv(&env.run(with_format(&args, "csv")).ok().stdout)[0];
        for name in header {
            assert!(
                wide.contains(name.as_str()),
                "{args:?}: --wide leaves out `{name}`\n{wide}"
            );
        }
    }
}
