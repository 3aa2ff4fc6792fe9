//! The store as an open table: DuckDB and Apache Spark (with its default settings) read
//! the committed files and agree with halo-billing, row for row, on every SQL report
//! (`benches/engines.sh`), and convert time zones as `--timezone` does. Needs the DuckDB
//! CLI (`DUCKDB`), a Python with pyspark (`PYTHON`) and a Java runtime; `.ci/run`
//! installs them when missing (the two from PyPI in a venv under
//! `~/.cache/halo-billing-ci`, where this test finds them unless told otherwise).

use crate::common;
use common::*;
use std::path::Path;
use std::process::Command;

/// `var`, else `name` in the venv `.ci/run` makes (when it is there), else `name` on
/// the PATH.
fn tool(var: &str, name: &str) -> String {
    if let Ok(v) = std::env::var(var) {
        return v;
    }
    let venv = std::env::var("HALO_BILLING_CI_VENV").map_or_else(
        |_| {
            Path::new(&std::env::var("HOME").unwrap_or_default())
                .join(".cache/halo-billing-ci/venv")
        },
        std::path::PathBuf::from,
    );
    let there = venv.join("bin").join(name);
    if there.exists() {
        return there.display().to_string();
    }
    name.to_string()
}

fn duckdb() -> String {
    runnable(
        tool("DUCKDB", "duckdb"),
        &["--version"],
        "the DuckDB CLI (pip install duckdb-cli; .ci/run does)",
    )
}

fn python() -> String {
    runnable(
        tool("PYTHON", "python3"),
        &["-c", "import pyspark"],
        "a Python with pyspark (pip install pyspark, and Java: apt-get install \
         default-jre-headless; .ci/run does)",
    )
}

/// Runs `benches/engines.sh` over `env`'s store for October 2026 (one run per engine),
/// with `extra` environment; returns (success, stdout, stderr).
fn engines(env: &Env, extra: &[(&str, &str)]) -> (bool, String, String) {
    let o = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/engines.sh"))
        .args([env.store().to_str().unwrap(), "2026-10-01", "2026-11-01"])
        .env("BIN", env!("CARGO_BIN_EXE_halo-billing"))
        .env("DUCKDB", duckdb())
        .env("PYTHON", python())
        .env("RUNS", "1")
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn duckdb_and_spark_agree_with_halo_billing_on_every_sql_report_and_a_changed_query_is_caught() {
    let env = Env::new();
    env.generated("6000", "29");
    let (ok, out, err) = engines(&env, &[]);
    assert!(ok, "{out}\n{err}");
    let reports: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("reports"))
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().into_string().unwrap();
                n.strip_suffix(".toml").map(str::to_string)
            })
            .collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    for r in &reports {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(r.as_str()))
            .unwrap_or_else(|| panic!("no line for {r}:\n{out}"));
        let cells: Vec<&str> = line.split_whitespace().collect();
        // report, rows, three times, `same`
        assert_eq!(cells.len(), 6, "{line}");
        assert!(cells[1].parse::<u64>().unwrap() > 5, "{line}");
        assert!(cells[4].parse::<f64>().is_ok(), "Spark ran it: {line}");
        assert_eq!(cells[5], "same", "{line}");
    }
    // The comparison can fail: the outside engines given a contracts query that counts
    // one action too many disagree, each named.
    let changed = env.path("changed");
    std::fs::create_dir_all(&changed).unwrap();
    for r in &reports {
        let sql = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("queries/{r}.sql")),
        )
        .unwrap();
        let sql = if r == "contracts" {
            sql.replace("COUNT(*) AS actions", "COUNT(*) + 1 AS actions")
        } else {
            sql
        };
        std::fs::write(changed.join(format!("{r}.sql")), sql).unwrap();
    }
    let (ok, out, err) = engines(&env, &[("QUERIES", changed.to_str().unwrap())]);
    assert!(!ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("contracts ")).unwrap();
    assert!(line.ends_with("DIFFERENT (spark)"), "{line}");
    assert!(err.contains("> duckdb") && err.contains("> spark"), "{err}");
    assert!(
        out.lines().filter(|l| l.ends_with(" same")).count() == 2,
        "{out}"
    );
}

/// The actions `report contracts` counts in October 2026 in `zone`.
fn ours_in(env: &Env, zone: &str) -> u64 {
    env.report_csv("contracts", &["--period", "2026-10", "--timezone", zone])
        .iter()
        .skip(1)
        .filter_map(|r| r[2].parse::<u64>().ok())
        .sum()
}

#[test]
fn duckdb_and_spark_count_a_london_month_as_timezone_europe_london_does() {
    let env = Env::new();
    env.generated("6000", "31");
    let london = ours_in(&env, "Europe/London");
    assert_ne!(
        london,
        ours_in(&env, "UTC"),
        "the zone matters for this data"
    );
    // DuckDB, with the machine's zone whatever it is: `AT TIME ZONE` of a UTC instant.
    let view = env.run(["status", "--view", "duckdb"]).ok().stdout;
    let o = Command::new(duckdb())
        .args(["-csv", "-noheader", "-c"])
        .arg(format!(
            "SET TimeZone = 'America/New_York'; {view}; SELECT count(*) FROM actions \
             WHERE (datetime AT TIME ZONE 'Europe/London') >= TIMESTAMP '2026-10-01' \
             AND (datetime AT TIME ZONE 'Europe/London') < TIMESTAMP '2026-11-01'"
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        london.to_string()
    );
    // Spark, its session in London: timestamps literals read in the session's zone.
    let view = env.run(["status", "--view", "spark"]).ok().stdout;
    let script = format!(
        "from pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.master('local[2]').config('spark.sql.session.timeZone', 'Europe/London').config('spark.ui.enabled', 'false').getOrCreate()\n\
         spark.sparkContext.setLogLevel('ERROR')\n\
         {view}\
         print(spark.sql(\"SELECT count(*) FROM actions WHERE datetime >= TIMESTAMP '2026-10-01 00:00:00' AND datetime < TIMESTAMP '2026-11-01 00:00:00'\").collect()[0][0])\n"
    );
    let o = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .lines()
            .last()
            .unwrap(),
        london.to_string()
    );
}

/// `SELECT count(*) FROM actions` in DuckDB after `view` (a `CREATE VIEW actions`).
fn duckdb_count(view: &str) -> u64 {
    let o = Command::new(duckdb())
        .args(["-csv", "-noheader", "-c"])
        .arg(format!("{view}; SELECT count(*) FROM actions"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

#[test]
fn a_duckdb_view_of_the_committed_files_made_before_a_commit_still_reads_that_state_whole() {
    let env = Env::new();
    env.generated("3000", "37");
    let listed = env.run(["status", "--view", "duckdb"]).ok().stdout;
    let before = duckdb_count(&listed);
    assert_eq!(before, 3000);
    // A commit replaces October's file with one holding one action more.
    let late = env.write(
        "late.ndjson",
        r#"{"id":1,"ticket_id":999999,"datetime":"2026-10-05T10:00:00Z","timetaken":1.0}"#,
    );
    env.import(&[&late]).ok();
    // The view made before it reads the state it listed, whole (the replaced file is
    // kept for the grace period); a view made now reads the new state; a glob of the
    // folder would count October twice.
    assert_eq!(duckdb_count(&listed), before);
    let now = env.run(["status", "--view", "duckdb"]).ok().stdout;
    assert_eq!(duckdb_count(&now), before + 1);
    let glob = format!(
        "CREATE VIEW actions AS SELECT * FROM read_parquet('{}/actions/*/*/*.parquet')",
        env.store().display()
    );
    assert!(duckdb_count(&glob) > before + 1);
}
