//! Halo's billing records (contracts, prepay, invoices) beside the actions: synced from
//! the simulator over real HTTP and imported from saved answers, stored with the actions'
//! guarantees, and used by the exports (customers), `report prepay` (Halo's purchases
//! and balances) and `report audit` (the seeded discrepancies, and nothing else).

use crate::common;
use common::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::process::Command;

fn sync(env: &Env, sim: &Sim, args: &[&str]) -> Run {
    let mut all = vec!["sync"];
    all.extend(args);
    sim.run(env, "demo-secret", &all)
}

/// `GET /api/<path>` of the simulator, every number kept as its JSON text (a string).
fn halo_get(sim: &Sim, path: &str) -> serde_json::Value {
    let script = format!(
        r#"
import json, urllib.request, urllib.parse
base = "{url}"
body = urllib.parse.urlencode({{"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret", "scope": "all"}}).encode()
token = json.loads(urllib.request.urlopen(base + "/auth/token", body).read())["access_token"]
req = urllib.request.Request(base + "/api/" + "{path}", headers={{"Authorization": "Bearer " + token}})
doc = json.loads(urllib.request.urlopen(req).read(), parse_float=lambda s: s, parse_int=lambda s: s)
print(json.dumps(doc))
"#,
        url = sim.url,
        path = path
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("GET {path}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows of a table of the store, read back through `query`-free means: the manifest's
/// record entries and their row counts.
fn record_rows(env: &Env) -> BTreeMap<String, u64> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.store().join("manifest.json")).unwrap()).unwrap();
    m["records"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let p = f["path"].as_str().unwrap();
                    (
                        p.split('/').nth(1).unwrap().to_string(),
                        f["rows"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sync_stores_every_contract_inactive_too_the_prepay_and_the_periods_invoices_and_says_what_they_cost()
 {
    let sim = Sim::start_with(&SYNC_DATA, &[]);
    let env = Env::new();
    let r = sync(&env, &sim, &["--period", "2026-10"]).ok();
    assert_eq!(
        sim.stats()["record_requests"].as_u64(),
        Some(3),
        "one page each"
    );
    let contracts = halo_get(&sim, "ClientContract?includeinactive=true");
    let prepay = halo_get(&sim, "ClientPrepay");
    let invoices = halo_get(
        &sim,
        "Invoice?start_date=2026-10-01&end_date=2026-10-31&includelines=true",
    );
    let lines: usize = invoices["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["lines"].as_array().unwrap().len())
        .sum();
    let want: BTreeMap<String, u64> = [
        (
            "contracts",
            contracts["contracts"].as_array().unwrap().len(),
        ),
        ("prepay", prepay["prepay"].as_array().unwrap().len()),
        ("invoices", invoices["invoices"].as_array().unwrap().len()),
        ("invoice_lines", lines),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v as u64))
    .collect();
    assert_eq!(record_rows(&env), want);
    assert_eq!(want["contracts"], 7, "six contracts and the inactive one");
    let st = env.run(["status"]).ok();
    assert!(
        st.stdout.contains(&format!(
            "records    Halo's: 7 contract(s), {} prepay record(s), {} invoice(s) with {} line(s)",
            want["prepay"], want["invoices"], want["invoice_lines"]
        )),
        "{}",
        st.stdout
    );
    assert!(
        r.stderr
            .contains("3 record page(s) (contracts, prepay, invoices)"),
        "{}",
        r.stderr
    );
    // `--only actions` is the sync of before: no record endpoint is asked.
    let asked = sim.stats()["record_requests"].as_u64();
    let env2 = Env::new();
    sync(&env2, &sim, &["--period", "2026-10", "--only", "actions"]).ok();
    assert!(record_rows(&env2).is_empty());
    assert_eq!(sim.stats()["record_requests"].as_u64(), asked);
}

#[test]
fn import_reads_each_endpoints_saved_answer_and_refuses_a_bad_record_alone_with_its_place_and_reason()
 {
    let env = Env::new();
    let c = env.write(
        "c.json",
        r#"{"record_count":2,"contracts":[{"id":101,"ref":"C-101","client_id":4,"client_name":"Acme Dental","active":true},
{"id":"x102","client_name":"Broken"}]}"#,
    );
    let p = env.write(
        "p.json",
        r#"{"record_count":1,"prepay":[{"id":1,"client_id":4,"contract_id":101,"date":"2026-01-01T00:00:00","hours":40.0,"amount":4000.00,"invoice_id":""}]}"#,
    );
    let i = env.write(
        "i.json",
        r#"{"record_count":2,"invoices":[
{"id":7,"invoicenumber":"INV-7","invoice_date":"2026-10-31T00:00:00","tax_total":387.796,"lines":[{"id":1,"ticket_id":5,"net_amount":825.0,"net_total":990.0}]},
{"id":8,"invoicenumber":"INV-8","lines":[{"id":1,"net_amount":NaN}]}]}"#,
    );
    let a = env.write(
        "a.json",
        r#"{"record_count":1,"actions":[{"id":1,"ticket_id":5,"datetime":"2026-10-02T10:00:00","timetaken":1.0,"actionchargehours":1.0,"actionchargeamount":825.0,"invoice_id":7,"actioninvoicenumber":"INV-7"}]}"#,
    );
    let r = env
        .run([
            "import".as_ref(),
            c.as_os_str(),
            p.as_os_str(),
            i.as_os_str(),
            a.as_os_str(),
            "--rejects".as_ref(),
            "rej.ndjson".as_ref(),
        ])
        .expect_code(3);
    assert!(
        r.stderr.contains("c.json:2: contracts[1]") && r.stderr.contains("field `id`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("i.json:3: invoices[1] (id 8): lines[0]: field `net_amount`"),
        "{}",
        r.stderr
    );
    let rejects = std::fs::read_to_string(env.path("rej.ndjson")).unwrap();
    assert_eq!(rejects.lines().count(), 2, "{rejects}");
    assert!(
        rejects.contains(r#"\"id\":\"x102\""#),
        "the record's text is kept: {rejects}"
    );
    let want: BTreeMap<String, u64> = [
        ("contracts", 1),
        ("prepay", 1),
        ("invoices", 1),
        ("invoice_lines", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(record_rows(&env), want);
    // The audit of October against what was read: the one invoice, ok to the cent.
    let rows = env.report_csv("audit", &["--period", "2026-10"]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[1],
        vec![
            "7",
            "INV-7",
            "",
            "2026-10-31",
            "not posted",
            "825.00",
            "1",
            "825.00",
            "0.00",
            "ok"
        ]
    );
}

/// A mapping of `[defaults]` only.
fn defaults_only(env: &Env) -> std::path::PathBuf {
    env.write(
        "m.toml",
        "[defaults]\naccount_code = \"200\"\ntax_type = \"Tax on Sales\"\nitem = \"Labour\"\nterms_days = 30\n\
         invoice_number = \"HB-{period}-{contract_id}\"\ninvoice_date = \"period-end\"\n",
    )
}

#[test]
fn an_export_whose_mapping_names_no_customer_bills_each_contract_to_halos_client_name() {
    let sim = Sim::start_with(&SYNC_DATA, &[]);
    let env = Env::new();
    sync(&env, &sim, &["--period", "2026-10"]).ok();
    let m = defaults_only(&env);
    // Work without a contract has no customer anywhere: left out, and said (exit 6).
    let r = env.run([
        "export".as_ref(),
        "xero".as_ref(),
        "--period".as_ref(),
        "2026-10".as_ref(),
        "--mapping".as_ref(),
        m.as_os_str(),
        "--out".as_ref(),
        "x.csv".as_ref(),
    ]);
    assert!(
        r.stderr.contains("without a contract was left out"),
        "{}",
        r.stderr
    );
    let contracts = halo_get(&sim, "ClientContract?includeinactive=true");
    let halo: BTreeMap<String, String> = contracts["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (text(&c["ref"]), text(&c["client_name"])))
        .collect();
    let csv = parse_csv(&std::fs::read_to_string(env.path("x.csv")).unwrap());
    let (name, reference) = (
        csv[0].iter().position(|h| h == "*ContactName").unwrap(),
        csv[0].iter().position(|h| h == "Reference").unwrap(),
    );
    assert!(csv.len() > 10);
    for row in &csv[1..] {
        let want = halo
            .iter()
            .find(|(r, _)| row[reference].contains(r.trim_start_matches(['=', '-'])))
            .map(|(_, n)| n)
            .unwrap_or_else(|| panic!("a contract of Halo's: {row:?}"));
        assert_eq!(&row[name], want, "{row:?}");
    }
    // --init-mapping writes them filled in, and the mapping still overrides Halo.
    env.run([
        "export",
        "--init-mapping",
        "init.toml",
        "--period",
        "2026-10",
    ])
    .ok();
    let init = std::fs::read_to_string(env.path("init.toml")).unwrap();
    assert!(!init.contains("customer = \"FILL-IN\""), "{init}");
    assert!(init.contains("customer = \"Acme Dental\""), "{init}");
    let over = env.write(
        "over.toml",
        &format!(
            "{}\n[contracts.100]\ncustomer = \"Mine\"\n",
            std::fs::read_to_string(&m).unwrap()
        ),
    );
    env.run(["exports", "withdraw", "1", "--reason", "test"])
        .ok();
    env.run([
        "export".as_ref(),
        "xero".as_ref(),
        "--period".as_ref(),
        "2026-10".as_ref(),
        "--mapping".as_ref(),
        over.as_os_str(),
        "--out".as_ref(),
        "y.csv".as_ref(),
    ]);
    let y = std::fs::read_to_string(env.path("y.csv")).unwrap();
    assert!(y.contains("\nMine,"), "the mapping overrides Halo: {y}");
}

/// Hours text (`40.0`, `24.333333333`) in milliseconds, rounded once half away from zero
/// (the product's one rounding).
fn ms(s: &str) -> i64 {
    let d = (dec(s) * Decimal::from(3_600_000))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(d).unwrap()
}

#[test]
fn prepay_balances_equal_a_hand_computation_from_the_simulators_purchases_and_draws() {
    let sim = Sim::start_with(&SYNC_DATA, &[]);
    let env = Env::new();
    sync(&env, &sim, &["--from", "2026-09-01", "--to", "2026-12-01"]).ok();
    let prepay = halo_get(&sim, "ClientPrepay");
    let contracts = halo_get(&sim, "ClientContract");
    let rows = env.report_csv("prepay", &["--period", "2026-11"]);
    let at = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let mut blocks = 0;
    for c in contracts["contracts"].as_array().unwrap() {
        if text(&c["allowprepay"]) != "true" {
            continue;
        }
        blocks += 1;
        let id = text(&c["id"]);
        let bought: i64 = prepay["prepay"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| text(&p["contract_id"]) == id)
            .map(|p| ms(&text(&p["hours"])))
            .sum();
        // Every draw, action by action (the drill-down, in integer ms).
        let drill = env.report_csv_of(&[
            "report",
            "actions",
            "--contract",
            &id,
            "--from",
            "2026-09-01",
            "--to",
            "2026-12-01",
            "--raw",
        ]);
        let p = drill[0]
            .iter()
            .position(|h| h == "actionprepayhours_ms")
            .unwrap();
        let drawn: i64 = drill[1..]
            .iter()
            .map(|r| r[p].parse::<i64>().unwrap())
            .sum();
        let row = rows.iter().find(|r| r[0] == id).unwrap();
        // Each hours figure is its exact value rounded once to 0.0001 h.
        let shown = |ms: i64| {
            (Decimal::from(ms) / Decimal::from(3_600_000))
                .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        };
        let cell = |name: &str| dec(&row[at(name)]);
        assert_eq!(cell("purchased_hours"), shown(bought), "contract {id}");
        assert_eq!(
            cell("remaining_hours"),
            shown(bought - drawn),
            "contract {id}"
        );
        let halo = ms(&text(&c["contract_prepaybalance"]));
        assert_eq!(cell("halo_remaining_hours"), shown(halo), "contract {id}");
        assert_eq!(
            cell("difference_hours"),
            shown(bought - drawn - halo),
            "contract {id}"
        );
        let seeded = if blocks == 1 { -5_400_000 } else { 0 };
        assert_eq!(
            bought - drawn - halo,
            seeded,
            "contract {id}: only the first block is seeded off by 1.5 h"
        );
        let status = &row[at("status")];
        let want = if bought - drawn < 0 {
            "overdrawn"
        } else {
            status.as_str()
        };
        assert_eq!(status, want);
    }
    assert_eq!(blocks, 2);
    // Synced from October only, the blocks bought on 1 September are not judged.
    let late = Env::new();
    sync(&late, &sim, &["--period", "2026-10"]).ok();
    let r = late.run(["report", "prepay", "--period", "2026-10"]).ok();
    let rows = parse_csv(&r.stdout);
    let status = rows[0].iter().position(|h| h == "status").unwrap();
    assert!(
        rows[1..]
            .iter()
            .filter(|r| !r[status].is_empty())
            .all(|r| r[status] == "incomplete"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("status `incomplete`"), "{}", r.stderr);
    late.run(["report", "prepay", "--period", "2026-10", "--strict"])
        .expect_code(5);
}

fn findings(rows: &[Vec<String>]) -> BTreeMap<String, usize> {
    let f = rows[0].iter().position(|h| h == "finding").unwrap();
    let mut out = BTreeMap::new();
    for r in &rows[1..] {
        *out.entry(r[f].clone()).or_default() += 1;
    }
    out
}

#[test]
fn the_audit_finds_exactly_the_seeded_discrepancies_to_the_cent_and_nothing_else() {
    let env = Env::new();
    {
        let sim = Sim::start_with(&SYNC_DATA, &[]);
        sync(&env, &sim, &["--period", "2026-11"]).ok();
    }
    let mapping = filled_mapping(&env, "2026-11");
    let r = env.run([
        "export".as_ref(),
        "xero".as_ref(),
        "--period".as_ref(),
        "2026-11".as_ref(),
        "--mapping".as_ref(),
        mapping.as_os_str(),
        "--out".as_ref(),
        "x.csv".as_ref(),
    ]);
    assert!(r.code == 0 || r.code == 6, "{}", r.stderr);
    let before = env.report_csv("audit", &["--period", "2026-11"]);
    assert_eq!(
        findings(&before),
        [
            ("lines-differ", 1),
            ("missing", 1),
            ("ok", 4),
            ("voided", 1)
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        "{before:?}"
    );
    // Halo invoices the work we exported: billed twice.
    {
        let sim = Sim::start_with(&SYNC_DATA, &["--invoice-unbilled"]);
        sync(&env, &sim, &["--period", "2026-11"]).ok();
    }
    let r = env.run(["report", "audit", "--period", "2026-11"]).ok();
    let rows = parse_csv(&r.stdout);
    let got = findings(&rows);
    let at = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    // Every contract's late invoice is work we exported; work without a contract
    // (`-L0000`) had no customer, so it was not exported, and is ok.
    let late: Vec<&Vec<String>> = rows[1..]
        .iter()
        .filter(|r| r[at("invoice_number")].contains("-L"))
        .collect();
    assert!(late.len() >= 4, "{rows:?}");
    for r in &late {
        let want = if r[at("invoice_number")].ends_with("-L0000") {
            "ok"
        } else {
            "exported-and-invoiced"
        };
        assert_eq!(r[at("finding")], want, "{r:?}");
    }
    assert_eq!(
        got.get("exported-and-invoiced"),
        Some(&(late.len() - 1)),
        "{rows:?}"
    );
    assert_eq!(got.get("lines-differ"), Some(&1));
    assert_eq!(got.get("voided"), Some(&1));
    assert_eq!(got.get("missing"), Some(&1));
    assert_eq!(got.values().sum::<usize>(), 7 + late.len(), "nothing else");
    let late = late.len() - 1;
    for row in &rows[1..] {
        let (lines, acts, diff) = (
            dec(&row[at("lines_amount")]),
            dec(&row[at("actions_amount")]),
            dec(&row[at("difference")]),
        );
        assert_eq!(diff, lines - acts);
        match row[at("finding")].as_str() {
            "lines-differ" => assert_eq!(diff, dec("12.50"), "{row:?}"),
            "missing" => assert_eq!(lines, Decimal::ZERO),
            _ => assert_eq!(diff, Decimal::ZERO, "{row:?}"),
        }
        // The drill-down lists the actions behind the row and adds up to it.
        let key = if row[at("invoice_number")].is_empty() {
            &row[at("invoice_id")]
        } else {
            &row[at("invoice_number")]
        };
        let drill = env.report_csv("actions", &["--period", "2026-11", "--invoice", key]);
        assert_eq!(
            column_sum(&drill, "chargeable_amount"),
            acts,
            "invoice {key}"
        );
        assert_eq!(
            Decimal::from(drill.len() - 1),
            dec(&row[at("actions")]),
            "invoice {key}"
        );
    }
    assert_eq!(
        column_sum(&rows, "difference"),
        column_sum(&rows, "lines_amount") - column_sum(&rows, "actions_amount")
    );
    let only = env.report_csv("audit", &["--period", "2026-11", "--findings-only"]);
    assert_eq!(only.len() - 1, 3 + late);
    assert!(!findings(&only).contains_key("ok"));
}

#[test]
fn a_closed_periods_audit_reads_the_invoices_as_they_were_at_the_close() {
    let env = Env::new();
    {
        let sim = Sim::start_with(&SYNC_DATA, &[]);
        sync(&env, &sim, &["--period", "2026-11"]).ok();
    }
    let before = env.report_csv("audit", &["--period", "2026-11"]);
    env.run(["close", "--period", "2026-11"]).ok();
    {
        let sim = Sim::start_with(&SYNC_DATA, &["--invoice-unbilled"]);
        sync(&env, &sim, &["--period", "2026-11"]).ok();
    }
    assert_eq!(
        env.report_csv("audit", &["--period", "2026-11"]),
        before,
        "the closed period's invoices are frozen"
    );
    env.run(["reopen", "--period", "2026-11", "--reason", "test"])
        .ok();
    let after = env.report_csv("audit", &["--period", "2026-11"]);
    assert!(after.len() > before.len(), "live again: {after:?}");
}

#[test]
fn an_audit_with_no_invoices_says_so_in_one_line_and_one_without_halos_invoices_is_refused() {
    let env = Env::new();
    env.generated("400", "3");
    let r = env
        .run(["report", "audit", "--period", "2026-10"])
        .expect_code(1);
    assert!(
        r.stderr.contains("the store holds no invoices from Halo")
            && r.stderr.contains("never says \"ok\""),
        "{}",
        r.stderr
    );
    // Halo's invoices of another month only, and actions of October that name none.
    let i = env.write(
        "i.json",
        r#"{"record_count":1,"invoices":[{"id":7,"invoicenumber":"INV-7","invoice_date":"2026-12-31T00:00:00","lines":[]}]}"#,
    );
    env.import(&[&i]).ok();
    let quiet = Env::new();
    quiet.import(&[&i]).ok();
    let a = quiet.write(
        "a.json",
        r#"{"actions":[{"id":1,"ticket_id":5,"datetime":"2026-10-02T10:00:00","timetaken":1.0,"actionchargehours":1.0,"actionchargeamount":10.0}]}"#,
    );
    quiet.import(&[&a]).ok();
    let r = quiet
        .run(["report", "audit", "--period", "2026-10", "--format", "json"])
        .ok();
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["rows"].as_array().unwrap().len(), 0);
    let notes = j["notes"].to_string();
    assert!(
        notes.contains("no invoices: Halo returned none dated in 2026-10"),
        "{notes}"
    );
}

#[test]
fn a_hostile_answer_on_any_record_endpoint_loses_no_stored_record() {
    let env = Env::new();
    {
        let sim = Sim::start_with(&SYNC_DATA, &[]);
        sync(&env, &sim, &["--period", "2026-10"]).ok();
    }
    let stored = record_rows(&env);
    for endpoint in ["contracts", "prepay", "invoices"] {
        for (how, code) in [
            ("html", 1),
            ("empty", 1),
            ("error-json", 1),
            ("empty-page", 0),
            ("nan", 3),
        ] {
            let sim = Sim::start_with(
                &SYNC_DATA,
                &["--misbehave", how, "--misbehave-records", endpoint],
            );
            let r = sync(
                &env,
                &sim,
                &["--period", "2026-10", "--max-retries", "1", "--refresh"],
            );
            assert_eq!(r.code, code, "{endpoint} {how}: {}", r.stderr);
            if code == 1 {
                assert!(
                    r.stderr.contains(&format!("({endpoint})")),
                    "{endpoint} {how}: {}",
                    r.stderr
                );
            }
            assert_eq!(
                record_rows(&env),
                stored,
                "{endpoint} {how}: nothing stored may disappear"
            );
            let _ = std::fs::remove_dir_all(env.store().join("sync/pending"));
        }
    }
}

#[test]
fn a_damaged_records_file_is_named_never_read_and_a_crashed_writers_records_file_is_removed() {
    let env = Env::new();
    let i = env.write(
        "i.json",
        r#"{"record_count":1,"invoices":[{"id":7,"invoicenumber":"INV-7","invoice_date":"2026-10-31T00:00:00","lines":[{"id":1,"ticket_id":5,"net_amount":10.0}]}]}"#,
    );
    let a = env.write(
        "a.json",
        r#"{"actions":[{"id":1,"ticket_id":5,"datetime":"2026-10-02T10:00:00","actionchargehours":1.0,"actionchargeamount":10.0,"invoice_id":7}]}"#,
    );
    env.import(&[&i, &a]).ok();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.store().join("manifest.json")).unwrap()).unwrap();
    let rel = m["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .find(|p| p.starts_with("records/invoices/"))
        .unwrap();
    let file = env.store().join(&rel);
    // A crashed writer's file of a later generation: the next writer removes it.
    let left = file.with_file_name("part-g999999.parquet");
    std::fs::copy(&file, &left).unwrap();
    let again = env.write(
        "c.json",
        r#"{"contracts":[{"id":101,"client_name":"Acme"}]}"#,
    );
    env.import(&[&again]).ok();
    assert!(!left.exists(), "a crashed writer's records file is removed");
    // One flipped byte: the audit names the file and computes nothing from it.
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    let r = env
        .run(["report", "audit", "--period", "2026-10"])
        .expect_code(1);
    assert!(
        r.stderr.contains(&rel) && r.stderr.contains("differs"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "no figure: {}", r.stdout);
    env.run(["report", "contracts", "--period", "2026-10"]).ok();
    let v = env.run(["status", "--verify"]);
    assert!(
        v.stdout.contains(&rel) || v.stderr.contains(&rel),
        "{}{}",
        v.stdout,
        v.stderr
    );
}
