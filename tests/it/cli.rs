//! What the tool says about paths, files, settings and failed stages: the words a user
//! needs (the path, the fix, the command to run).

use crate::common;
use common::*;

#[test]
fn report_status_and_close_on_a_missing_store_name_it_and_the_ways_to_fill_it_and_create_nothing() {
    let env = Env::new();
    for args in [
        vec!["report", "contracts", "--period", "2026-10"],
        vec!["status"],
        vec!["close", "--period", "2026-10"],
    ] {
        let r = env.run(&args).expect_code(1);
        let store = env.store().display().to_string();
        for words in [
            format!("there is no store at `{store}`"),
            "halo-billing sync --period YYYY-MM".to_string(),
            "halo-billing import PATH".to_string(),
            "--store DIR or HALO_BILLING_STORE".to_string(),
        ] {
            assert!(r.stderr.contains(&words), "{args:?}: {}", r.stderr);
        }
        assert!(!env.store().exists(), "{args:?} created the store folder");
    }
}

#[test]
fn out_into_a_missing_folder_creates_it_and_a_folder_as_out_is_refused() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    env.run([
        "report",
        "contracts",
        "--period",
        "2026-10",
        "--out",
        "no/such/dir/c.csv",
    ])
    .ok();
    assert!(env.path("no/such/dir/c.csv").is_file());
    std::fs::create_dir_all(env.path("out")).unwrap();
    let r = env
        .run(["report", "contracts", "--period", "2026-10", "--out", "out"])
        .expect_code(2);
    assert!(
        r.stderr
            .contains("--out `out` is a folder; give a file name in it, e.g. `out/report.csv`"),
        "{}",
        r.stderr
    );
}

#[test]
fn import_reads_any_letter_case_of_extension_and_counts_the_files_it_skips() {
    let env = Env::new();
    let line = std::fs::read_to_string(data("twenty-minutes.ndjson")).unwrap();
    env.write("in/page-copy.JSON", &line);
    env.write("in/notes.txt", "not data");
    env.write("in/sub/readme.md", "not data either");
    let r = env.import(&[&env.path("in")]).ok();
    assert!(
        r.stderr
            .contains("2 file(s) in the folders given were skipped"),
        "{}",
        r.stderr
    );
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(column_sum(&rows, "actions"), rust_decimal::Decimal::from(5));
    let r = env
        .run(["import", "--verbose", env.path("in").to_str().unwrap()])
        .ok();
    assert!(
        r.stderr.contains("skipped ") && r.stderr.contains("notes.txt"),
        "{}",
        r.stderr
    );
}

fn sync_without_settings(env: &Env, extra: &[&str]) -> Run {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(["sync", "--period", "2026-10"])
        .args(extra)
        .current_dir(env.dir.path())
        .env("HALO_BILLING_STORE", env.store())
        .env("XDG_CONFIG_HOME", env.path("config"))
        .env_remove("HALO_URL")
        .env_remove("HALO_CLIENT_ID")
        .env_remove("HALO_CLIENT_SECRET")
        .env_remove("HALO_CONFIG")
        .output()
        .unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

#[test]
fn every_missing_sync_setting_is_named_in_one_message() {
    let env = Env::new();
    let r = sync_without_settings(&env, &[]).expect_code(2);
    for env_var in ["HALO_URL", "HALO_CLIENT_ID", "HALO_CLIENT_SECRET"] {
        assert!(r.stderr.contains(env_var), "{}", r.stderr);
    }
    assert!(
        r.stderr.contains("required settings are not set"),
        "{}",
        r.stderr
    );
}

#[test]
fn sync_help_describes_the_config_file_named_on_the_command_line() {
    let env = Env::new();
    let cfg = env.write("my.toml", "url = \"http://127.0.0.1:9\"\n");
    let r = sync_without_settings(&env, &["--config", cfg.to_str().unwrap(), "--help"]).ok();
    let line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("config file"))
        .unwrap_or_else(|| panic!("{}", r.stdout))
        .to_string();
    assert!(
        line.contains("my.toml") && !line.contains("absent"),
        "{line}"
    );
    assert!(r.stdout.contains("`url` in "), "{}", r.stdout);
}

#[test]
fn values_that_make_no_sense_are_refused_with_what_to_write() {
    let env = Env::new();
    let r = env
        .run(["sync", "--period", "2026-10", "--workers", "0"])
        .expect_code(2);
    assert!(r.stderr.contains("--workers"), "{}", r.stderr);
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--by",
            "contract",
        ])
        .expect_code(2);
    assert!(
        r.stderr
            .contains("--by applies to `report adjustments` and `report leakage` only"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_stage_that_fails_says_failed_with_the_reason_never_done() {
    let env = Env::new();
    // Nothing listens on port 9 of loopback: every request is refused.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(["sync", "--period", "2026-10", "--max-retries", "0"])
        .current_dir(env.dir.path())
        .env("HALO_BILLING_STORE", env.store())
        .env("HALO_URL", "http://127.0.0.1:9")
        .env("HALO_CLIENT_ID", "demo")
        .env("HALO_CLIENT_SECRET", "demo-secret")
        .env("XDG_CONFIG_HOME", env.path("config"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fetching windows: failed after 0 of 31"),
        "{err}"
    );
    assert!(err.contains("connection failed"), "{err}");
    assert!(!err.contains("fetching windows: done"), "{err}");
}

#[test]
fn from_without_to_asks_for_to_only_and_no_period_asks_for_either() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let r = env
        .run(["report", "contracts", "--from", "2026-10-01"])
        .expect_code(2);
    assert!(r.stderr.contains("--to <DATE>"), "{}", r.stderr);
    assert!(!r.stderr.contains("  --period"), "{}", r.stderr);
    let r = env.run(["report", "contracts"]).expect_code(2);
    assert!(
        r.stderr
            .contains("give either --period YYYY-MM, or both --from and --to"),
        "{}",
        r.stderr
    );
}

#[test]
fn one_thread_gives_the_same_reports_as_the_machine_s_count_and_a_bad_count_exits_2() {
    let env = Env::new();
    env.generated("2000", "71");
    for kind in ["contracts", "agents", "unbilled"] {
        let many = env.run(["report", kind, "--period", "2026-10"]).ok().stdout;
        let one = env
            .run(["--threads", "1", "report", kind, "--period", "2026-10"])
            .ok()
            .stdout;
        assert_eq!(one, many, "{kind}");
    }
    let e = env
        .run_with_env(
            &["report", "contracts", "--period", "2026-10"],
            &[("HALO_BILLING_THREADS", "two")],
        )
        .expect_code(2);
    assert!(
        e.stderr.contains("HALO_BILLING_THREADS=`two`"),
        "{}",
        e.stderr
    );
    env.run([
        "--threads",
        "0",
        "report",
        "contracts",
        "--period",
        "2026-10",
    ])
    .expect_code(2);
}

/// Runs `args` with standard output a pipe whose reading end is already gone (as in
/// `| head -0`); returns the exit code and standard error.
fn into_closed_pipe(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(args)
        .current_dir(env.dir.path())
        .env("HALO_BILLING_STORE", env.store())
        .env("XDG_CONFIG_HOME", env.path("config"))
        .env_remove("HALO_BILLING_REPORTS")
        .stdout(writer)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn every_command_writing_to_a_closed_pipe_ends_quietly_with_0() {
    let env = Env::new();
    env.generated("3000", "81");
    env.run(["close", "--period", "2026-09"]).ok();
    let m = filled_mapping(&env, "2026-10");
    env.run([
        "export",
        "csv",
        "--period",
        "2026-10",
        "--mapping",
        m.to_str().unwrap(),
        "--out",
        "ledger.csv",
    ])
    .expect_code(6);
    env.write(
        "jobs.toml",
        "[[job]]\nname = \"j\"\nperiod = \"2026-10\"\nreports = [\"contracts\"]\n",
    );
    let p = ["--period", "2026-10"];
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for kind in [
        "contracts",
        "invoices",
        "unbilled",
        "agents",
        "leakage",
        "prepay",
        "actions",
        "charge-rates",
    ] {
        for format in ["csv", "json", "table", "html"] {
            let mut a = vec!["report", kind, "--format", format];
            a.extend(p);
            runs.push(a);
        }
    }
    runs.push(vec!["report", "actions", "--period", "2026-10", "--raw"]);
    runs.push(vec!["report", "adjustments", "--period", "2026-09"]);
    runs.push(vec![
        "report", "pack", "--period", "2026-10", "--format", "html",
    ]);
    runs.push(vec!["report", "--list"]);
    runs.push(vec![
        "query",
        "--period",
        "2026-10",
        "SELECT * FROM actions",
    ]);
    runs.push(vec!["status"]);
    runs.push(vec!["status", "--verify"]);
    runs.push(vec!["exports"]);
    runs.push(vec!["exports", "show", "1"]);
    runs.push(vec!["timezone"]);
    runs.push(vec!["jobs", "list", "--jobs", "jobs.toml"]);
    for args in &runs {
        let (code, err) = into_closed_pipe(&env, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}
