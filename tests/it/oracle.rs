//! Generated data through the real binary, checked against an independent computation:
//! the test reads the generated JSON itself (rust_decimal, its own dedup and grouping)
//! and compares every figure of the contracts report.

use crate::common;
use common::*;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

type Record = HashMap<String, Box<RawValue>>;

#[derive(serde::Deserialize)]
struct Page {
    actions: Vec<Record>,
    actionsdetails: Option<Vec<Record>>,
}

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out)
        } else {
            out.push(p)
        }
    }
}

fn num(r: &Record, k: &str) -> Decimal {
    match r.get(k).map(|v| v.get()) {
        None | Some("null") => Decimal::ZERO,
        Some(t) => Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .unwrap(),
    }
}

fn text(r: &Record, k: &str) -> Option<String> {
    r.get(k).and_then(|v| {
        serde_json::from_str::<Option<String>>(v.get())
            .ok()
            .flatten()
    })
}

fn when(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f").unwrap()
}

#[test]
fn contracts_report_matches_an_independent_computation() {
    let env = Env::new();
    env.generated("9000", "5");
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);

    // Independent: read every page, prefer full records, keep the newest copy of a key.
    let mut paths = Vec::new();
    files(&env.path("gen"), &mut paths);
    let mut latest: HashMap<(i64, i64), (Option<chrono::NaiveDateTime>, Record)> = HashMap::new();
    for p in paths {
        let page: Page = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        for rec in page.actionsdetails.unwrap_or(page.actions) {
            let key = (
                num(&rec, "ticket_id").try_into().unwrap(),
                num(&rec, "id").try_into().unwrap(),
            );
            let lu = text(&rec, "last_updated").map(|s| when(&s));
            let replace = match latest.get(&key) {
                None => true,
                Some((old, _)) => !matches!((lu, old), (Some(a), Some(b)) if a < *b),
            };
            if replace {
                latest.insert(key, (lu, rec));
            }
        }
    }
    let money = |r: &Record, k: &str| {
        num(r, k).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    };
    // Hours are held per action in whole milliseconds (rounded half away from zero).
    let ms = |r: &Record, k: &str| {
        (num(r, k) * Decimal::from(3_600_000))
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
    };
    let mut expect: BTreeMap<String, (u64, [Decimal; 10])> = BTreeMap::new();
    for (_, rec) in latest.values() {
        if !text(rec, "datetime").unwrap().starts_with("2026-10") {
            continue;
        }
        let cid = num(rec, "action_contract_id");
        let key = if cid > Decimal::ZERO {
            cid.to_string()
        } else {
            String::new()
        };
        let e = expect.entry(key).or_default();
        e.0 += 1;
        let figures = [
            ms(rec, "timetaken"),
            ms(rec, "nonbilltime"),
            ms(rec, "traveltime"),
            num(rec, "mileage").round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero),
            ms(rec, "actionchargehours"),
            money(rec, "actionchargeamount"),
            ms(rec, "actionnonchargehours"),
            money(rec, "actionnonchargeamount"),
            ms(rec, "actionprepayhours"),
            money(rec, "actionprepayamount"),
        ];
        for (acc, v) in e.1.iter_mut().zip(figures) {
            *acc += v;
        }
    }

    assert_eq!(rows.len() - 1, expect.len(), "one row per contract");
    for r in &rows[1..] {
        let (count, sums) = &expect[&r[0]];
        assert_eq!(r[2], count.to_string(), "actions of contract {:?}", r[0]);
        for (j, want) in sums.iter().enumerate() {
            let name = &rows[0][3 + j];
            let got = Decimal::from_str(&r[3 + j]).unwrap();
            if name.ends_with("_amount") || name == "mileage" {
                assert_eq!(got, *want, "{name} of contract {:?}", r[0]);
            } else {
                // Hours: each row is its exact total (of per-action milliseconds) rounded
                // half away from zero to 0.0001 h, on its own.
                let want = (*want / Decimal::from(3_600_000))
                    .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
                assert_eq!(got, want, "{name} of contract {:?}", r[0]);
            }
        }
    }
}
