//! Footer summaries: reports of whole months read each partition file's summaries
//! instead of its rows, with the same figures; files without them are read row by row;
//! a summary that does not fit its file is an error naming it.

use crate::common;
use common::*;

use std::path::{Path, PathBuf};

/// The partition files the manifest of `store` names, of 2026's `month` (any: 0).
fn partition_files(store: &Path, month: u32) -> Vec<PathBuf> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| month == 0 || (f["year"] == 2026 && f["month"] == month))
        .map(|f| store.join(f["path"].as_str().unwrap()))
        .collect()
}

/// The October partition file of the store (the generated stores hold one per month).
fn october_file(env: &Env) -> PathBuf {
    let files = partition_files(&env.store(), 10);
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// The halo-billing key-value pairs of a Parquet file's footer, unpacked.
fn footer_of(path: &Path) -> Vec<(String, String)> {
    raw_footer_of(path)
        .into_iter()
        .map(|(k, v)| {
            let text = halo_billing::store::footer::unpack(v);
            (k, text.unwrap())
        })
        .collect()
}

/// The halo-billing key-value pairs of a Parquet file's footer, as stored.
fn raw_footer_of(path: &Path) -> Vec<(String, String)> {
    use polars::prelude::*;
    let mut reader = ParquetReader::new(std::fs::File::open(path).unwrap());
    reader
        .get_metadata()
        .unwrap()
        .key_value_metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.key.starts_with("halo-billing."))
        .map(|e| (e.key, e.value.unwrap_or_default()))
        .collect()
}

const CONTRACTS_FOOTER: &str = "halo-billing.totals.contracts.v1";

/// Rewrites the Parquet file at `path` with the same rows and its footer's key-value
/// pairs (unpacked: [`footer_of`]) passed through `edit`, written plain, as files
/// written before packing hold them.
fn rewrite_footer(path: &Path, edit: impl FnOnce(&mut Vec<(String, String)>)) {
    use polars::prelude::*;
    let mut kv = footer_of(path);
    let mut df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    edit(&mut kv);
    let meta = (!kv.is_empty()).then(|| KeyValueMetadata::from_static(kv));
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(meta)
        .finish(&mut df)
        .unwrap();
    bless(path);
}

/// Makes the store's manifest record the file at `path` as it now is, as the writer of
/// an earlier release would have (size and SHA-256; no checksums of its parts): the
/// tests that edit a footer are about what readers make of it, not about the store
/// noticing the edit (`tests/store.rs` has those).
fn bless(path: &Path) {
    let root = path
        .ancestors()
        .find(|a| a.join("manifest.json").is_file())
        .unwrap();
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let bytes = std::fs::read(path).unwrap();
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mpath = root.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    for e in m["files"].as_array_mut().unwrap() {
        if e["path"] == rel.as_str() {
            e["bytes"] = bytes.len().into();
            e["sha256"] = sha.clone().into();
            let o = e.as_object_mut().unwrap();
            o.remove("xxh3");
            o.remove("ranges");
        }
    }
    std::fs::write(&mpath, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

/// Rewrites the file at `path` with the last element of the JSON list under `key` in
/// its footer removed.
fn drop_last_entry(path: &Path, key: &str) {
    rewrite_footer(path, |kv| {
        let (_, json) = kv.iter_mut().find(|(k, _)| k == key).unwrap();
        let mut list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
        list.pop();
        *json = serde_json::to_string(&list).unwrap();
    });
}

#[test]
fn whole_months_are_summed_from_the_files_footer_totals_and_cut_months_from_their_rows() {
    let env = Env::new();
    env.generated("3000", "5");
    let month = ["--period", "2026-10"];
    let before = env.report_csv("contracts", &month);
    // Add one cent to the first contract's chargeable amount in the footer only.
    let file = october_file(&env);
    let mut doctored = 0;
    rewrite_footer(&file, |kv| {
        let (_, json) = kv.iter_mut().find(|(k, _)| k == CONTRACTS_FOOTER).unwrap();
        let mut groups: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
        let g = groups
            .iter_mut()
            .find(|g| g[0].as_i64() != Some(0))
            .unwrap();
        doctored = g[0].as_i64().unwrap();
        g[3][5] = (g[3][5].as_i64().unwrap() + 1).into();
        *json = serde_json::to_string(&groups).unwrap();
    });
    let after = env.report_csv("contracts", &month);
    let id = doctored.to_string();
    let amount = |rows: &[Vec<String>]| -> rust_decimal::Decimal {
        cell(rows, row(rows, &id), "chargeable_amount")
            .parse()
            .unwrap()
    };
    assert_eq!(
        amount(&after) - amount(&before),
        rust_decimal::Decimal::new(1, 2)
    );
    // The rows themselves are unchanged: the SQL twin (always rows) gives the figures
    // from before, and a range that cuts October is summed from its rows (both engines
    // agree there, the doctored cent in neither).
    let sql = |extra: &[&str]| {
        let mut a = vec!["report", "contracts", "--engine", "sql"];
        a.extend(extra);
        parse_csv(&env.run(&a).ok().stdout)
    };
    assert_eq!(amount(&sql(&month)), amount(&before));
    let cut = ["--from", "2026-10-01", "--to", "2026-10-31"];
    assert_eq!(env.report_csv("contracts", &cut), sql(&cut));
    assert_eq!(before.len(), after.len());
}

#[test]
fn files_without_footer_totals_are_summed_from_their_rows_with_the_same_figures() {
    let env = Env::new();
    env.generated("3000", "6");
    let both = || {
        ["contracts", "invoices"].map(|k| {
            env.run(["report", k, "--period", "2026-10", "--totals"])
                .ok()
                .stdout
        })
    };
    let before = both();
    rewrite_footer(&october_file(&env), |kv| kv.clear());
    let after = both();
    assert!(parse_csv(&before[0]).len() > 5, "{}", before[0]);
    assert_eq!(before, after);
}

#[test]
fn footer_totals_that_disagree_with_the_files_row_count_are_an_error_naming_the_file() {
    let env = Env::new();
    env.generated("3000", "7");
    let file = october_file(&env);
    drop_last_entry(&file, CONTRACTS_FOOTER);
    let r = env.run(["report", "contracts", "--period", "2026-10"]);
    fails_naming(&r, &file, &["rows", "status --verify"]);
    // The other kind's totals are intact and still used.
    env.run(["report", "invoices", "--period", "2026-10"]).ok();
}

#[test]
fn footer_values_are_stored_packed_and_a_damaged_one_is_an_error_naming_file_and_key() {
    let env = Env::new();
    env.generated("3000", "9");
    let file = october_file(&env);
    let raw = raw_footer_of(&file);
    assert!(raw.len() >= 7, "{raw:?}");
    for (k, v) in &raw {
        assert!(v.starts_with("zstd+base64:"), "{k}: {v:.40}");
    }
    let packed: usize = raw.iter().map(|(_, v)| v.len()).sum();
    let plain: usize = footer_of(&file).iter().map(|(_, v)| v.len()).sum();
    assert!(packed < plain, "packed {packed} bytes, plain {plain}");
    rewrite_footer(&file, |kv| {
        let (_, v) = kv.iter_mut().find(|(k, _)| k == CONTRACTS_FOOTER).unwrap();
        *v = "zstd+base64:AAAAAAAA".into();
    });
    let r = env.run(["report", "contracts", "--period", "2026-10"]);
    fails_naming(
        &r,
        &file,
        &[CONTRACTS_FOOTER, "does not decompress", "status --verify"],
    );
    // The other values are plain now (as older files hold them) and still read.
    env.run(["report", "invoices", "--period", "2026-10"]).ok();
}

const PACK_FOOTERS: [&str; 5] = [
    "halo-billing.agents.v1",
    "halo-billing.unbilled.v1",
    "halo-billing.leakage.v1",
    "halo-billing.prepay.v1",
    "halo-billing.charge-rates.v1",
];

/// Imports, on top of generated data, actions that may leak revenue (both reasons, with
/// and without a contract): `per_month` in each of September, October and November.
fn import_leaky(env: &Env, per_month: [usize; 3]) {
    let mut lines = String::new();
    for (k, n) in per_month.iter().enumerate() {
        for i in 0..*n {
            let (month, day, hour) = (9 + k, 1 + i % 30, i % 24);
            let contract = if i % 3 == 0 {
                String::new()
            } else {
                format!(
                    r#","action_contract_id":{},"action_contract_ref":"L-{}""#,
                    900 + i % 4,
                    i % 4
                )
            };
            let figures = if i % 2 == 0 {
                r#""actionchargehours":1.25,"actionchargeamount":0,"timetaken":1.25"#
            } else {
                r#""actisbillable":true,"timetaken":0.75"#
            };
            lines.push_str(&format!(
                r#"{{"id":{i},"ticket_id":{},"datetime":"2026-{month:02}-{day:02}T{hour:02}:30:00Z","who_agentid":{},"who":"Leaky {}"{contract},{figures}}}"#,
                990_000 + k,
                70 + i % 2,
                i % 2
            ));
            lines.push('\n');
        }
    }
    let p = env.write("leaky.ndjson", &lines);
    env.import(&[&p]).ok();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The month-end pack reports and charge-rates, compared below, with their options.
fn pack_reports(balances: &str) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    vec![
        s(&["unbilled"]),
        s(&["agents"]),
        s(&["leakage"]),
        s(&["leakage", "--by", "contract"]),
        s(&["prepay"]),
        s(&["prepay", "--balances", balances]),
        s(&["charge-rates"]),
        s(&["charge-rates", "--param", "contract=101"]),
    ]
}

#[test]
fn month_end_pack_reports_from_footer_summaries_equal_those_from_rows_in_every_zone_and_range() {
    let env = Env::new();
    env.generated("4000", "41");
    // October gets more leaking actions than a footer keeps: its rows are read.
    import_leaky(&env, [40, 4100, 40]);
    for f in partition_files(&env.store(), 0) {
        let keys: Vec<String> = footer_of(&f).into_iter().map(|(k, _)| k).collect();
        for k in PACK_FOOTERS {
            let october_leakage =
                f.to_str().unwrap().contains("month=10/") && k.contains("leakage");
            assert_eq!(
                keys.contains(&k.to_string()),
                !october_leakage,
                "{k} in {}",
                f.display()
            );
        }
    }
    // The same store with every footer stripped: every figure comes from rows.
    let rows_store = env.path("rows-store");
    copy_dir(&env.store(), &rows_store);
    for f in partition_files(&rows_store, 0) {
        rewrite_footer(&f, |kv| kv.clear());
        assert!(footer_of(&f).is_empty());
    }
    let balances = env.write(
        "balances.csv",
        "contract_id,date,hours,amount\n100,2026-08-01,40,4000\n101,2026-09-15,10,1000\n",
    );
    let periods: [&[&str]; 7] = [
        &["--period", "2026-10"],
        &["--from", "2026-09-01", "--to", "2026-12-01"],
        // Ages cut inside every month (last day 2026-11-15: limits on 10-16, 09-16, 08-17);
        // the range before also cuts October (last day 11-30, 30 days back: 10-31).
        &["--from", "2026-08-01", "--to", "2026-11-16"],
        &["--from", "2026-09-15", "--to", "2026-11-20"],
        &["--period", "2026-10", "--timezone", "Europe/Berlin"],
        &[
            "--from",
            "2026-09-01",
            "--to",
            "2026-12-01",
            "--timezone",
            "America/New_York",
        ],
        // Europe/London is at UTC+0 from 2026-10-25: November's local month is its UTC one.
        &["--period", "2026-11", "--timezone", "Europe/London"],
    ];
    let mut lines = 0;
    for report in pack_reports(balances.to_str().unwrap()) {
        for p in periods {
            let mut args: Vec<String> = vec!["report".into()];
            args.extend(report.iter().cloned());
            args.extend(p.iter().map(|x| x.to_string()));
            let footers = env.run(&args).ok().stdout;
            args.extend(["--store".into(), rows_store.display().to_string()]);
            let rows = env.run(&args).ok().stdout;
            assert_eq!(footers, rows, "{args:?}");
            lines += footers.lines().count();
        }
    }
    assert!(lines > 2000, "{lines} lines compared");
}

#[test]
fn whole_month_pack_reports_come_from_the_footer_summaries() {
    let env = Env::new();
    env.generated("3000", "43");
    import_leaky(&env, [29, 31, 30]);
    let balances = env.write(
        "balances.csv",
        "contract_id,date,hours,amount\n100,2026-08-01,40,4000\n",
    );
    let run = |report: &[String], p: &[&str]| {
        let mut args: Vec<String> = vec!["report".into()];
        args.extend(report.iter().cloned());
        args.extend(p.iter().map(|x| x.to_string()));
        env.run(&args).ok().stdout
    };
    let whole = ["--period", "2026-10"];
    let cut = ["--from", "2026-10-01", "--to", "2026-10-31"];
    let reports = pack_reports(balances.to_str().unwrap());
    let before: Vec<(String, String)> = reports
        .iter()
        .map(|r| (run(r, &whole), run(r, &cut)))
        .collect();
    // October's file given September's summaries (its own row count kept).
    let september = footer_of(&partition_files(&env.store(), 9)[0]);
    rewrite_footer(&october_file(&env), |kv| {
        for (k, v) in kv
            .iter_mut()
            .filter(|(k, _)| PACK_FOOTERS.contains(&k.as_str()))
        {
            let mut theirs: serde_json::Value =
                serde_json::from_str(&september.iter().find(|(s, _)| s == k).unwrap().1).unwrap();
            let mine: serde_json::Value = serde_json::from_str(v).unwrap();
            theirs["rows"] = mine["rows"].clone();
            *v = theirs.to_string();
        }
    });
    for (r, (whole_before, cut_before)) in reports.iter().zip(&before) {
        assert_ne!(&run(r, &whole), whole_before, "{r:?} over the whole month");
        assert_eq!(&run(r, &cut), cut_before, "{r:?} over a cut month (rows)");
    }
}

#[test]
fn a_store_written_before_footer_summaries_is_rewritten_with_them_once_by_the_next_writer() {
    let env = Env::new();
    env.generated("3000", "44");
    let periods: [&[&str]; 2] = [
        &["--period", "2026-10"],
        &["--from", "2026-09-01", "--to", "2026-12-01"],
    ];
    let reports = |env: &Env| -> Vec<String> {
        let mut out = Vec::new();
        for kind in ["contracts", "invoices", "agents", "unbilled", "prepay"] {
            for p in periods {
                let mut args = vec!["report", kind];
                args.extend(p);
                out.push(env.run(&args).ok().stdout);
            }
        }
        out
    };
    let before = reports(&env);
    // As an earlier halo-billing wrote it: no footers, no `summaries` in the manifest.
    for f in partition_files(&env.store(), 0) {
        rewrite_footer(&f, |kv| kv.clear());
    }
    let mpath = env.store().join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    manifest
        .as_object_mut()
        .unwrap()
        .remove("summaries")
        .unwrap();
    std::fs::write(&mpath, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    assert_eq!(reports(&env), before, "read row by row meanwhile");
    let status = env.run(["status"]).ok().stdout;
    assert!(
        status.contains("summaries  none in the files' footers yet"),
        "{status}"
    );
    // The next writer (an import of nothing new) rewrites every file once, and says so.
    let r = env.import(&[&env.path("gen")]).ok();
    assert!(
        r.stderr.contains("upgraded once: 3 file(s) (3000 action(s), rows unchanged) rewritten with the report summaries"),
        "{}",
        r.stderr
    );
    // The long rewrite shows its progress (plain lines when not on a terminal).
    assert!(
        r.stderr
            .contains("adding report summaries to the store's files (once): done (3 in"),
        "{}",
        r.stderr
    );
    let files = partition_files(&env.store(), 0);
    assert_eq!(files.len(), 3);
    for f in &files {
        let keys: Vec<String> = footer_of(f).into_iter().map(|(k, _)| k).collect();
        assert!(
            keys.contains(&CONTRACTS_FOOTER.to_string()),
            "{}: {keys:?}",
            f.display()
        );
        for k in PACK_FOOTERS {
            assert!(keys.contains(&k.to_string()), "{k} in {}", f.display());
        }
    }
    assert_eq!(reports(&env), before);
    assert!(!env.run(["status"]).ok().stdout.contains("summaries"));
    let again = env.import(&[&env.path("gen")]).ok();
    assert!(!again.stderr.contains("upgraded"), "{}", again.stderr);
    assert_eq!(partition_files(&env.store(), 0), files, "no second rewrite");
}

const INDEX_FOOTER: &str = "halo-billing.index.contract-rows.v1";

/// `report actions --contract C` over October and over a range cutting October and
/// November, for each of `contracts`.
fn contract_actions(env: &Env, contracts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for c in contracts {
        for range in [
            &["--period", "2026-10"][..],
            &["--from", "2026-10-05", "--to", "2026-11-20"],
        ] {
            let mut a = vec!["report", "actions", "--contract", c, "--format", "csv"];
            a.extend(range);
            out.push(env.run(&a).ok().stdout);
        }
    }
    out
}

#[test]
fn a_contracts_actions_read_through_the_index_equal_those_read_from_files_without_it() {
    let env = Env::new();
    env.generated("3000", "8");
    let files = partition_files(&env.store(), 0);
    assert!(
        files
            .iter()
            .all(|f| footer_of(f).iter().any(|(k, _)| k == INDEX_FOOTER)),
        "every partition file carries a contract index"
    );
    // The busiest contract, one more, no contract, and one the store does not hold.
    let contracts = env.report_csv("contracts", &["--period", "2026-10"]);
    let ids: Vec<&str> = contracts[1..]
        .iter()
        .map(|r| r[0].as_str())
        .filter(|id| id.parse::<i64>().is_ok_and(|n| n > 0))
        .take(2)
        .collect();
    let asked = [ids[0], ids[1], "none", "987654"];
    let indexed = contract_actions(&env, &asked);
    for f in &files {
        rewrite_footer(f, |kv| kv.retain(|(k, _)| k != INDEX_FOOTER));
    }
    let unindexed = contract_actions(&env, &asked);
    assert_eq!(indexed, unindexed);
    let listed = |t: &str| parse_csv(t).len();
    assert!(listed(&indexed[0]) > 10, "{}", indexed[0]);
    assert!(listed(&indexed[4]) > 2, "no contract: {}", indexed[4]);
    assert_eq!(listed(&indexed[6]), 1, "the header only: {}", indexed[6]);
}

#[test]
fn a_contract_index_that_does_not_fit_its_file_is_an_error_naming_the_file() {
    let env = Env::new();
    env.generated("3000", "9");
    let file = october_file(&env);
    drop_last_entry(&file, INDEX_FOOTER);
    let r = env.run([
        "report",
        "actions",
        "--contract",
        "none",
        "--period",
        "2026-10",
    ]);
    fails_naming(&r, &file, &["contract index", "rows of the file's"]);
}

/// `r` failed, writing nothing, with an error that names `file` and says each of `says`.
fn fails_naming(r: &Run, file: &Path, says: &[&str]) {
    assert_ne!(r.code, 0, "{}", r.stdout);
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(r.stderr.contains(name), "{}", r.stderr);
    for s in says {
        assert!(r.stderr.contains(s), "{s}: {}", r.stderr);
    }
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}
