//! `export`: accounting files that import without edits and reconcile to the cent.

use crate::common;
use common::*;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;
use std::path::Path;

const XERO_HEADER: &str = "*ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,POAddressLine4,POCity,PORegion,POPostalCode,POCountry,*InvoiceNumber,Reference,*InvoiceDate,*DueDate,InventoryItemCode,*Description,*Quantity,*UnitAmount,Discount,*AccountCode,*TaxType,TrackingName1,TrackingOption1,TrackingName2,TrackingOption2,Currency,BrandingTheme";

/// What an accounting system makes of a line: round(q x u, 2). Both common rounding
/// rules must agree (our pairs never sit on a half cent).
fn system_amount(q: &str, u: &str) -> Decimal {
    let p = dec(q) * dec(u);
    let away = p.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let even = p.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    assert_eq!(away, even, "{q} x {u} sits on a half cent");
    away
}

/// Total chargeable amount of `report unbilled` for the period, and its no-contract row.
fn unbilled_total(env: &Env, period: &str) -> (Decimal, Decimal) {
    let rows = env.report_csv("unbilled", &["--period", period]);
    let total = column_sum(&rows, "chargeable_amount");
    let none = rows[1..]
        .iter()
        .find(|r| r[0].is_empty())
        .map(|r| dec(cell(&rows, r, "chargeable_amount")))
        .unwrap_or_default();
    (total, none)
}

/// `export FORMAT --period 2026-10 --mapping MAPPING --out OUT` and `extra`.
fn export_with(env: &Env, format: &str, mapping: &str, out: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "export",
        format,
        "--period",
        "2026-10",
        "--mapping",
        mapping,
        "--out",
        out,
    ];
    args.extend(extra);
    env.run(args)
}

/// `export FORMAT --period 2026-10 --mapping MAPPING --out OUT`.
fn export(env: &Env, format: &str, mapping: &str, out: &str) -> Run {
    export_with(env, format, mapping, out, &[])
}

/// [`export`] of hand-made data that covers only its own days: `--allow-gaps`, and the
/// gap said on standard error.
fn export_over_gaps(env: &Env, format: &str, mapping: &str, out: &str) -> Run {
    let r = export_with(env, format, mapping, out, &["--allow-gaps"]);
    assert!(
        r.stderr.contains("(written anyway: --allow-gaps)"),
        "{}",
        r.stderr
    );
    r
}

/// Withdraws the register's export `seq` (so that the next export bills its work again).
fn withdraw(env: &Env, seq: u32) {
    env.run([
        "exports",
        "withdraw",
        &seq.to_string(),
        "--reason",
        "a check of another format",
    ])
    .ok();
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    parse_csv(&std::fs::read_to_string(path).unwrap())
}

#[test]
fn init_mapping_lists_every_contract_of_the_period_points_to_a_readme_section_that_exists_and_never_overwrites()
 {
    let env = Env::new();
    env.generated("2000", "41");
    env.run(["export", "--init-mapping", "m.toml", "--period", "2026-10"])
        .ok();
    let text = std::fs::read_to_string(env.path("m.toml")).unwrap();
    let contracts = env.report_csv("contracts", &["--period", "2026-10"]);
    for r in &contracts[1..] {
        let key = if r[0].is_empty() { "none" } else { &r[0] };
        let charged = dec(cell(&contracts, r, "chargeable_amount"));
        if charged > Decimal::ZERO {
            assert!(
                text.contains(&format!("[contracts.{key}]")),
                "{key}: {text}"
            );
        }
    }
    assert!(text.contains("[defaults]"));
    // The README section the generated file points to exists.
    let section = text
        .split("See README.md, \"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the mapping names a README section");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme
            .lines()
            .any(|l| l.starts_with('#') && l.trim_start_matches('#').trim() == section),
        "README.md has no heading `{section}`"
    );
    let again = env
        .run(["export", "--init-mapping", "m.toml", "--period", "2026-10"])
        .expect_code(2);
    assert!(
        again.stderr.contains("never overwrites"),
        "{}",
        again.stderr
    );
}

#[test]
fn every_line_of_xero_quickbooks_and_the_ledger_recomputes_to_the_unbilled_report() {
    let env = Env::new();
    env.generated("3000", "42");
    let m = filled_mapping(&env, "2026-10");
    let (unbilled, without_contract) = unbilled_total(&env, "2026-10");
    assert!(
        without_contract > Decimal::ZERO,
        "the data has work without a contract"
    );
    let invoiced = unbilled - without_contract;
    let m_s = m.to_str().unwrap();
    for (seq, format) in [(1, "xero"), (2, "quickbooks"), (3, "csv")] {
        let out = format!("{format}.csv");
        // Exit 6: the work without a contract is left out.
        let r = export(&env, format, m_s, &out).expect_code(6);
        withdraw(&env, seq);
        assert!(
            r.stderr
                .contains("chargeable work without a contract was left out")
                && r.stderr.contains(&without_contract.to_string()),
            "{}",
            r.stderr
        );
        let rows = read_csv(&env.path(&out));
        let (number, q, u, amount) = match format {
            "xero" => {
                assert_eq!(rows[0].join(","), XERO_HEADER);
                ("*InvoiceNumber", "*Quantity", "*UnitAmount", None)
            }
            "quickbooks" => ("InvoiceNo", "ItemQuantity", "ItemRate", Some("ItemAmount")),
            _ => ("invoice_number", "quantity", "unit_amount", Some("amount")),
        };
        let mut per_invoice: BTreeMap<String, Decimal> = BTreeMap::new();
        for r in &rows[1..] {
            let line = system_amount(cell(&rows, r, q), cell(&rows, r, u));
            if let Some(a) = amount {
                assert_eq!(line, dec(cell(&rows, r, a)), "{format}: {r:?}");
            }
            *per_invoice
                .entry(cell(&rows, r, number).to_string())
                .or_default() += line;
        }
        let total: Decimal = per_invoice.values().sum();
        assert_eq!(
            total, invoiced,
            "{format}: the export's total is the unbilled report's"
        );
        // One invoice per mapped contract, each the sum of its contract's unbilled work.
        let report = env.report_csv("unbilled", &["--period", "2026-10"]);
        assert_eq!(per_invoice.len(), report.len() - 2, "{format}");
        for r in &report[1..] {
            if r[0].is_empty() {
                continue;
            }
            let inv = format!("HB-2026-10-{}", r[0]);
            assert_eq!(
                per_invoice[&inv],
                dec(cell(&report, r, "chargeable_amount")),
                "{format} {inv}"
            );
        }
    }
    // With [contracts.none] the work without a contract gets its own invoice: the export
    // then holds the whole unbilled total, and nothing is left out.
    let mut text = std::fs::read_to_string(&m).unwrap();
    text.push_str("\n[contracts.none]\ncustomer = \"Walk-in clients\"\n");
    env.write("m.toml", &text);
    let r = export(&env, "xero", m_s, "all.csv").ok();
    assert!(!r.stderr.contains("left out"), "{}", r.stderr);
    let rows = read_csv(&env.path("all.csv"));
    let total: Decimal = rows[1..]
        .iter()
        .map(|r| system_amount(&r[16], &r[17]))
        .sum();
    assert_eq!(total, unbilled);
    let walk_in: Decimal = rows[1..]
        .iter()
        .filter(|r| r[10] == "HB-2026-10-none")
        .map(|r| system_amount(&r[16], &r[17]))
        .sum();
    assert_eq!(walk_in, without_contract);
}

#[test]
fn an_unmapped_contract_and_missing_values_are_listed_at_once_and_nothing_is_written() {
    let env = Env::new();
    env.generated("2000", "43");
    let m = filled_mapping(&env, "2026-10");
    let text = std::fs::read_to_string(&m).unwrap();
    // Drop contract 101's section, blank 102's customer, and the defaults' tax type.
    let mut out = Vec::new();
    let mut skip = false;
    for l in text.lines() {
        if l.starts_with('[') {
            skip = l.starts_with("[contracts.101]");
        }
        if skip || l.starts_with("tax_type") {
            continue;
        }
        out.push(
            if l.starts_with("customer")
                && out
                    .last()
                    .is_some_and(|p: &String| p.starts_with("[contracts.102]"))
            {
                "customer = \"FILL-IN\"".to_string()
            } else {
                l.to_string()
            },
        );
    }
    env.write("m.toml", &out.join("\n"));
    let r = export(&env, "xero", "m.toml", "x.csv").expect_code(2);
    assert!(
        r.stderr.contains("no [contracts.ID] section: 101"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("[contracts.102] customer is still FILL-IN"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("has no tax_type"), "{}", r.stderr);
    assert!(!env.path("x.csv").exists(), "nothing written");
    let leftovers: Vec<_> = std::fs::read_dir(env.path(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("x.csv"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

const FALLBACK: &str = r#"{"id":1,"ticket_id":1,"datetime":"2026-10-05T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","chargerate":1,"actionchargehours":150.0001,"actionchargeamount":15000.02,"timetaken":150.0001}
{"id":2,"ticket_id":1,"datetime":"2026-10-06T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","chargerate":2,"actionchargehours":1.5,"actionchargeamount":123.45,"timetaken":1.5}
"#;

const SMALL_MAP: &str = r#"
[defaults]
account_code = "200"
tax_type = "Tax on Sales"
item = "Labour"
terms_days = 14
invoice_number = "HB-{period}-{contract_id}"
date_format = "mm/dd/yyyy"

[contracts.7]
customer = "=Evil Corp"
email = "ap@example.com"
"#;

#[test]
fn a_line_no_hours_based_price_reaches_is_quantity_one_with_the_hours_in_its_text() {
    let env = Env::new();
    let p = env.write("a.ndjson", FALLBACK);
    env.import(&[&p]).ok();
    env.write("m.toml", SMALL_MAP);
    let r = export_over_gaps(&env, "xero", "m.toml", "x.csv").ok();
    assert!(r.stderr.contains("1 priced as quantity 1"), "{}", r.stderr);
    let rows = read_csv(&env.path("x.csv"));
    assert_eq!(rows.len(), 3, "{rows:?}");
    let big = &rows[1];
    assert_eq!(cell(&rows, big, "*Quantity"), "1.0000");
    assert_eq!(cell(&rows, big, "*UnitAmount"), "15000.0200");
    assert!(
        cell(&rows, big, "*Description").contains("150.0001 h"),
        "{big:?}"
    );
    let small = &rows[2];
    assert_eq!(cell(&rows, small, "*Quantity"), "1.5000");
    assert_eq!(
        system_amount(
            cell(&rows, small, "*Quantity"),
            cell(&rows, small, "*UnitAmount")
        ),
        dec("123.45")
    );
    // Xero reads the customer verbatim (an apostrophe would reach the invoice); the
    // export warns, naming the field and the contract. Dates follow the mapping's format.
    assert_eq!(cell(&rows, big, "*ContactName"), "=Evil Corp");
    assert!(
        r.stderr.contains(
            "warning: the customer of contract 7, `=Evil Corp`, begins like a spreadsheet formula: the Xero file carries it verbatim"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(cell(&rows, big, "*InvoiceDate"), "10/31/2026");
    assert_eq!(cell(&rows, big, "*DueDate"), "11/14/2026");
    // The ledger CSV is for people: it keeps the spreadsheet safety, and warns of nothing.
    env.run([
        "exports",
        "withdraw",
        "1",
        "--reason",
        "the ledger of the same work",
    ])
    .ok();
    let r = export_over_gaps(&env, "csv", "m.toml", "l.csv").ok();
    assert!(!r.stderr.contains("spreadsheet formula"), "{}", r.stderr);
    let ledger = std::fs::read_to_string(env.path("l.csv")).unwrap();
    assert!(ledger.contains(",'=Evil Corp,"), "{ledger}");
}

#[test]
fn xero_files_split_at_500_invoices() {
    let env = Env::new();
    let mut lines = String::new();
    let mut map = String::from(
        "[defaults]\naccount_code = \"200\"\ntax_type = \"Tax on Sales\"\nterms_days = 30\n",
    );
    for c in 1..=1001 {
        lines.push_str(&format!(
            "{{\"id\":1,\"ticket_id\":{c},\"datetime\":\"2026-10-05T10:00:00Z\",\"action_contract_id\":{c},\"actionchargehours\":1,\"actionchargeamount\":{c}.01}}\n"
        ));
        map.push_str(&format!("[contracts.{c}]\ncustomer = \"Customer {c}\"\n"));
    }
    let p = env.write("a.ndjson", &lines);
    env.import(&[&p]).ok();
    env.write("m.toml", &map);
    export_over_gaps(&env, "xero", "m.toml", "out/xero.csv").ok();
    let mut numbers = std::collections::HashSet::new();
    let mut total = Decimal::ZERO;
    for (k, expect) in [(1, 500), (2, 500), (3, 1)] {
        let rows = read_csv(&env.path(&format!("out/xero-{k}.csv")));
        assert_eq!(rows[0].join(","), XERO_HEADER);
        let here: std::collections::HashSet<_> = rows[1..].iter().map(|r| r[10].clone()).collect();
        assert_eq!(here.len(), expect, "file {k}");
        for r in &rows[1..] {
            total += system_amount(&r[16], &r[17]);
        }
        numbers.extend(here);
    }
    assert_eq!(numbers.len(), 1001, "every invoice once");
    assert!(!env.path("out/xero-4.csv").exists() && !env.path("out/xero.csv").exists());
    // 1.01 + 2.01 + ... + 1001.01
    assert_eq!(total, Decimal::from(1001 * 1002 / 2) + dec("10.01"));
}

#[test]
fn datev_books_each_issued_invoice_in_windows_1252_matching_the_invoices_report() {
    let env = Env::new();
    env.generated("3000", "44");
    // A contract reference with characters outside ASCII, on invoiced work.
    let extra = r#"{"id":1,"ticket_id":99999,"datetime":"2026-10-20T10:00:00Z","action_contract_id":555,"action_contract_ref":"Müller € Wartung","actionchargehours":2,"actionchargeamount":250.5,"actioninvoicenumber":"RE-555","invoice_id":555}
"#;
    let p = env.write("extra.ndjson", extra);
    env.import(&[&p]).ok();
    let m = filled_mapping(&env, "2026-10");
    // Without the DATEV header numbers nothing is written.
    let r = export(&env, "datev", "m.toml", "datev").expect_code(2);
    assert!(
        r.stderr.contains("[datev] has no consultant"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[datev] has no client"), "{}", r.stderr);
    assert!(!env.path("datev").exists());
    let mut text = std::fs::read_to_string(&m).unwrap();
    text.push_str("\n[datev]\nconsultant = 1001\nclient = 1\n");
    env.write("m.toml", &text);
    export(&env, "datev", "m.toml", "datev").ok();
    let bytes = std::fs::read(env.path("datev/EXTF_Buchungsstapel_2026-10.csv")).unwrap();
    // Windows-1252: ü is 0xFC and € is 0x80 (in UTF-8 they would be two and three bytes).
    let needle = [b'M', 0xFC, b'l', b'l', b'e', b'r', b' ', 0x80];
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle),
        "Windows-1252 text"
    );
    let (text, _, bad) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!bad);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let header: Vec<&str> = lines[0].split(';').collect();
    assert_eq!(header.len(), 31, "{}", lines[0]);
    assert_eq!(
        &header[..4],
        ["\"EXTF\"", "700", "21", "\"Buchungsstapel\""]
    );
    assert_eq!(header[14], "20261001");
    assert_eq!(header[15], "20261031");
    assert!(lines[1].starts_with("Umsatz (ohne Soll/Haben-Kz);Soll/Haben-Kennzeichen;"));
    // Bookings per invoice equal the invoices report's chargeable amount per invoice.
    let mut booked: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in &lines[2..] {
        let f: Vec<&str> = l.split(';').collect();
        assert!(
            f[0].contains(',') && !f[0].contains('.'),
            "decimal comma: {l}"
        );
        assert_eq!(f[1], "\"H\"");
        assert_eq!(f[9], "3110", "Belegdatum DDMM with its zeros");
        let amount = dec(&f[0].replace(',', "."));
        *booked
            .entry(f[10].trim_matches('"').to_string())
            .or_default() += amount;
    }
    let inv = env.report_csv("invoices", &["--period", "2026-10"]);
    let mut expected = 0;
    for r in &inv[1..] {
        if r[0].is_empty() {
            continue;
        }
        let amount = dec(cell(&inv, r, "chargeable_amount"));
        if amount != Decimal::ZERO {
            expected += 1;
            assert_eq!(booked.get(&r[0]).copied(), Some(amount), "invoice {}", r[0]);
        }
    }
    assert_eq!(booked.len(), expected);
    assert_eq!(booked["RE-555"], dec("250.50"));
}

#[test]
fn contracts_mapped_to_one_customer_share_one_invoice_when_invoice_per_is_customer() {
    let env = Env::new();
    let lines = r#"{"id":1,"ticket_id":1,"datetime":"2026-10-05T10:00:00Z","action_contract_id":1,"action_contract_ref":"C-1","chargerate":1,"actionchargehours":2,"actionchargeamount":200}
{"id":1,"ticket_id":2,"datetime":"2026-10-06T10:00:00Z","action_contract_id":2,"action_contract_ref":"C-2","chargerate":1,"actionchargehours":1.25,"actionchargeamount":99.99}
{"id":1,"ticket_id":3,"datetime":"2026-10-07T10:00:00Z","action_contract_id":3,"action_contract_ref":"C-3","chargerate":2,"actionchargehours":1,"actionchargeamount":50}
"#;
    let p = env.write("a.ndjson", lines);
    env.import(&[&p]).ok();
    env.write(
        "m.toml",
        r#"
[defaults]
account_code = "200"
tax_type = "Tax on Sales"
terms_days = 30
invoice_per = "customer"
invoice_number = "HB-{period}-{customer}"

[contracts.1]
customer = "Shared"
[contracts.2]
customer = "Shared"
[contracts.3]
customer = "Alone"
"#,
    );
    export_over_gaps(&env, "xero", "m.toml", "x.csv").ok();
    let rows = read_csv(&env.path("x.csv"));
    let mut per_invoice: BTreeMap<String, (Decimal, usize)> = BTreeMap::new();
    for r in &rows[1..] {
        let e = per_invoice.entry(r[10].clone()).or_default();
        e.0 += system_amount(&r[16], &r[17]);
        e.1 += 1;
    }
    assert_eq!(per_invoice.len(), 2, "{per_invoice:?}");
    assert_eq!(per_invoice["HB-2026-10-Shared"], (dec("299.99"), 2));
    assert_eq!(per_invoice["HB-2026-10-Alone"], (dec("50.00"), 1));
    // Per contract, the same scheme would give one number to two invoices: refused.
    let text = std::fs::read_to_string(env.path("m.toml")).unwrap();
    env.write(
        "m.toml",
        &text.replace("invoice_per = \"customer\"", "invoice_per = \"contract\""),
    );
    withdraw(&env, 1);
    let e = export_over_gaps(&env, "xero", "m.toml", "y.csv").expect_code(2);
    assert!(
        e.stderr
            .contains("invoice number `HB-2026-10-Shared` is given twice"),
        "{}",
        e.stderr
    );
    assert!(!env.path("y.csv").exists());
}

#[test]
fn import_files_carry_formula_like_references_verbatim_and_the_export_warns_of_each() {
    // The generator's contracts 103 (`=HYPERLINK("http://x")`) and 104 (`-Legacy block`).
    let env = Env::new();
    env.generated("3000", "5");
    let m = filled_mapping(&env, "2026-10");
    let text = std::fs::read_to_string(&m).unwrap();
    let m = env.write(
        "m.toml",
        &format!("{text}\n[datev]\nconsultant = 1001\nclient = 1\n"),
    );
    let m = m.to_str().unwrap();
    for (format, out, file) in [
        ("xero", "x.csv", "x.csv"),
        ("quickbooks", "q.csv", "q.csv"),
        ("datev", "datev", "datev"),
    ] {
        if format == "quickbooks" {
            withdraw(&env, 1); // the same work, billed again for the other system
        }
        let r = export_with(&env, format, m, out, &["--allow-gaps"]);
        assert!(r.code == 0 || r.code == 6, "{format}: {}", r.stderr);
        let path = env.path(file);
        let text = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap()
                .map(|e| {
                    let b = std::fs::read(e.unwrap().path()).unwrap();
                    b.iter().map(|&c| c as char).collect::<String>()
                })
                .collect::<String>()
        } else {
            std::fs::read_to_string(&path).unwrap()
        };
        assert!(
            !text.contains("'=HYPERLINK") && !text.contains("'-Legacy"),
            "{format}: {text}"
        );
        assert!(
            text.contains("=HYPERLINK(") || text.contains("-Legacy block"),
            "{format}: the references reach the file: {text}"
        );
        if format != "datev" {
            // (DATEV's texts begin with Halo's invoice number; its check is below.)
            assert!(
                r.stderr.contains("begins like a spreadsheet formula"),
                "{format}: {}",
                r.stderr
            );
            for c in ["103", "104"] {
                assert!(
                    r.stderr.contains(&format!("of contract {c}, `")),
                    "{format}: contract {c} named: {}",
                    r.stderr
                );
            }
        }
    }
    // A DATEV field that begins like a formula is written verbatim and warned of.
    let bad = env.write(
        "bad.ndjson",
        r#"{"id":1,"ticket_id":99,"datetime":"2026-10-05T10:00:00Z","action_contract_id":101,"actionchargehours":1,"actionchargeamount":10,"actioninvoicenumber":"=1+1","invoice_id":5}"#,
    );
    env.import(&[&bad]).ok();
    let r = export_with(&env, "datev", m, "datev2", &["--allow-gaps"]);
    assert!(r.code == 0 || r.code == 6, "{}", r.stderr);
    assert!(
        r.stderr.contains("the Belegfeld 1 (invoice) of invoice =1+1, `=1+1`, begins like a spreadsheet formula: the DATEV file"),
        "{}",
        r.stderr
    );
    // Reports' CSVs keep the spreadsheet safety.
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    assert!(rows.iter().any(|r| r[1] == "'-Legacy block"), "{rows:?}");
}

/// Contract 7: charge rate 1 priced by Halo at 179.99 an hour on three actions of two
/// tickets (1 h, 20 min, 45 min: 179.99 + 60.00 + 134.99 = 374.98 for 2.0833 h, which at
/// 179.99 make 374.97); charge rate 2 at two different rates (no one rate fits).
const RATES: &str = r#"{"id":1,"ticket_id":1,"datetime":"2026-10-05T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","chargerate":1,"actionchargehours":1.0,"actionchargeamount":179.99}
{"id":2,"ticket_id":1,"datetime":"2026-10-06T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","chargerate":1,"actionchargehours":0.3333333333333333,"actionchargeamount":60.0}
{"id":1,"ticket_id":2,"datetime":"2026-10-07T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","chargerate":1,"actionchargehours":0.75,"actionchargeamount":134.99}
{"id":2,"ticket_id":2,"datetime":"2026-10-08T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","chargerate":2,"actionchargehours":1.0,"actionchargeamount":100.0}
{"id":3,"ticket_id":2,"datetime":"2026-10-09T10:00:00Z","action_contract_id":7,"action_contract_ref":"C-7","chargerate":2,"actionchargehours":1.0,"actionchargeamount":150.0}
"#;

#[test]
fn a_line_at_one_rate_shows_that_rate_with_a_rounding_line_and_per_ticket_lines_name_their_ticket()
{
    let env = Env::new();
    let p = env.write("a.ndjson", RATES);
    env.import(&[&p]).ok();
    let map = SMALL_MAP.replace("=Evil Corp", "Acme");
    env.write("m.toml", &map);
    for (format, number, qty, unit, amount) in [
        ("xero", "*InvoiceNumber", "*Quantity", "*UnitAmount", None),
        (
            "quickbooks",
            "InvoiceNo",
            "ItemQuantity",
            "ItemRate",
            Some("ItemAmount"),
        ),
    ] {
        let out = format!("{format}.csv");
        export_over_gaps(&env, format, "m.toml", &out).ok();
        let rows = read_csv(&env.path(&out));
        let col = |n: &str| rows[0].iter().position(|h| h == n).unwrap();
        let desc = if format == "xero" {
            col("*Description")
        } else {
            col("ItemDescription")
        };
        let lines: Vec<&Vec<String>> = rows[1..].iter().collect();
        assert_eq!(lines.len(), 3, "{format}: {rows:?}");
        // Charge rate 1: the hours at Halo's rate, and the cent they do not reach.
        assert_eq!(lines[0][col(qty)], "2.0833", "{format}");
        assert_eq!(
            lines[0][col(unit)],
            "179.9900",
            "{format}: the rate as Halo priced it"
        );
        assert!(
            lines[1][desc].contains("rounding of charge rate 1 (2.0833 h at 179.99 an hour)"),
            "{format}: {:?}",
            lines[1]
        );
        assert_eq!(
            (lines[1][col(qty)].as_str(), lines[1][col(unit)].as_str()),
            ("1.0000", "0.0100"),
            "{format}"
        );
        // Charge rate 2 has no one rate: a unit amount that gives its amount exactly.
        assert_eq!(lines[2][col(qty)], "2.0000", "{format}");
        assert_eq!(lines[2][col(unit)], "125.0000", "{format}");
        // Recomputed as the target computes it, the invoice is exactly what was billed.
        let total: Decimal = lines
            .iter()
            .map(|l| {
                let a = system_amount(&l[col(qty)], &l[col(unit)]);
                if let Some(am) = amount {
                    assert_eq!(dec(&l[col(am)]), a, "{format}: {l:?}");
                }
                a
            })
            .sum();
        assert_eq!(total, dec("624.98"), "{format}");
        assert!(
            lines
                .iter()
                .all(|l| l[col(number)] == lines[0][col(number)])
        );
        withdraw(&env, if format == "xero" { 1 } else { 2 });
    }
    // One line per ticket and rate, the ticket named.
    env.write("t.toml", &format!("{map}\nlines = \"per_ticket\"\n"));
    let r = export_over_gaps(&env, "xero", "t.toml", "t.csv").ok();
    let rows = read_csv(&env.path("t.csv"));
    let col = |n: &str| rows[0].iter().position(|h| h == n).unwrap();
    let described: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|l| {
            (
                l[col("*Description")].as_str(),
                l[col("*Quantity")].as_str(),
                l[col("*UnitAmount")].as_str(),
            )
        })
        .collect();
    assert_eq!(
        described,
        vec![
            (
                "C-7, ticket 1: charge rate 1, 2026-10",
                "1.3333",
                "179.9900"
            ),
            (
                "C-7, ticket 1: rounding of charge rate 1 (1.3333 h at 179.99 an hour), 2026-10",
                "1.0000",
                "0.0100"
            ),
            (
                "C-7, ticket 2: charge rate 1, 2026-10",
                "0.7500",
                "179.9900"
            ),
            (
                "C-7, ticket 2: charge rate 2, 2026-10",
                "2.0000",
                "125.0000"
            ),
        ],
        "{}",
        r.stderr
    );
    let total: Decimal = described.iter().map(|(_, q, u)| system_amount(q, u)).sum();
    assert_eq!(total, dec("624.98"));
    // `unit_price = "exact"`: one line per rate, an exact unit amount, no rounding line.
    withdraw(&env, 3);
    env.write("e.toml", &format!("{map}\nunit_price = \"exact\"\n"));
    export_over_gaps(&env, "xero", "e.toml", "e.csv").ok();
    let rows = read_csv(&env.path("e.csv"));
    let col = |n: &str| rows[0].iter().position(|h| h == n).unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| !r[col("*Description")].contains("rounding"))
    );
    assert_eq!(
        system_amount(&rows[1][col("*Quantity")], &rows[1][col("*UnitAmount")]),
        dec("374.98")
    );
    assert_ne!(rows[1][col("*UnitAmount")], "179.9900");
}
