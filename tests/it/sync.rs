//! `sync` against the simulator over real HTTP, with each fault switched on: the synced
//! store must equal the generated truth (the same data set imported from files).

use crate::common;
use common::*;
use std::process::{Command, Stdio};

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        Sim::start_with(&SYNC_DATA, extra)
    }
}

fn sync_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec!["sync".into(), "--period".into(), "2026-10".into()];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Starts `args` (a sync) against `sim` in the background, standard error `stderr`.
fn spawn_sync(env: &Env, sim: &Sim, args: Vec<String>, stderr: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(args)
        .current_dir(env.dir.path())
        .env("HALO_BILLING_STORE", env.store())
        .env("HALO_URL", &sim.url)
        .env("HALO_CLIENT_ID", "demo")
        .env("HALO_CLIENT_SECRET", "demo-secret")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

fn sync_env(env: &Env, sim: &Sim, secret: &str, args: &[String]) -> Run {
    sim.run(env, secret, args)
}

/// The truth: the same data set written by `generate` and imported from files.
fn truth() -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let env = Env::new();
    let mut args = vec!["generate", "--out", "gen"];
    args.extend(SYNC_DATA);
    env.run(args).ok();
    env.import(&[&env.path("gen")]).ok();
    (
        env.report_csv("contracts", &["--period", "2026-10"]),
        env.report_csv("invoices", &["--period", "2026-10"]),
    )
}

/// Syncs October from a simulator started with `sim_flags`, with client `flags`, and
/// checks the store equals the truth. Returns the sync's stderr.
fn sync_equals_truth(sim_flags: &[&str], flags: &[&str]) -> (String, serde_json::Value) {
    let sim = Sim::start(sim_flags);
    let env = Env::new();
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(flags));
    assert_eq!(r.code, 0, "sync failed\n{}", r.stderr);
    let (c, i) = truth();
    let got_c = env.report_csv("contracts", &["--period", "2026-10"]);
    let got_i = env.report_csv("invoices", &["--period", "2026-10"]);
    assert_eq!(
        column_sum(&got_c, "actions"),
        rust_decimal::Decimal::from(1000),
        "none lost, none duplicated"
    );
    assert_eq!(got_c, c, "contracts report differs from the truth");
    assert_eq!(got_i, i, "invoices report differs from the truth");
    (r.stderr, sim.stats())
}

#[test]
fn clean_server() {
    let (log, stats) = sync_equals_truth(&[], &[]);
    assert!(log.contains("31 fetched"), "{log}");
    // 31 day windows of about 32 actions: one page each, plus one token.
    assert_eq!(stats["list_requests"], 31, "{stats}");
    assert_eq!(stats["token_requests"], 1);
}

#[test]
fn rate_limit_with_retry_after() {
    let (log, stats) = sync_equals_truth(
        &["--rate-limit", "10/2", "--retry-after", "1"],
        &["--rate-limit", "0"],
    );
    assert!(
        stats["rate_limited"].as_u64().unwrap() > 0,
        "the fault must have fired: {stats}"
    );
    assert!(!log.contains(" 0 rate-limited answer"), "{log}");
}

#[test]
fn rate_limit_without_retry_after_backs_off_by_the_window() {
    let (_, stats) = sync_equals_truth(
        &["--rate-limit", "10/2"],
        &["--rate-limit", "0", "--rate-window", "2s"],
    );
    assert!(stats["rate_limited"].as_u64().unwrap() > 0, "{stats}");
}

#[test]
fn client_limiter_keeps_under_the_servers_budget() {
    let (log, stats) = sync_equals_truth(
        &["--rate-limit", "12/2"],
        &["--rate-limit", "10", "--rate-window", "2s"],
    );
    assert_eq!(stats["rate_limited"], 0, "{stats}\n{log}");
    assert!(
        !log.contains(" 0.0ns waiting"),
        "it must have waited on its own limiter: {log}"
    );
}

#[test]
fn server_errors_are_retried() {
    let (_, stats) = sync_equals_truth(&["--fail-rate", "0.15"], &[]);
    assert!(stats["failed"].as_u64().unwrap() > 0, "{stats}");
}

#[test]
fn dropped_connections_are_retried() {
    let (_, stats) = sync_equals_truth(&["--drop-rate", "0.15"], &[]);
    assert!(stats["dropped"].as_u64().unwrap() > 0, "{stats}");
}

#[test]
fn slow_responses() {
    sync_equals_truth(&["--delay-ms", "40"], &["--timeout", "5s"]);
}

#[test]
fn token_expiring_mid_run_is_renewed_on_401() {
    let (_, stats) = sync_equals_truth(
        &[
            "--token-ttl",
            "1s",
            "--announce-ttl",
            "3600s",
            "--delay-ms",
            "60",
        ],
        &["--workers", "1"],
    );
    assert!(stats["unauthorized"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["token_requests"].as_u64().unwrap() > 1, "{stats}");
}

#[test]
fn summaries_with_actionsdetails() {
    sync_equals_truth(&["--rows", "details"], &[]);
}

#[test]
fn summaries_only_fetch_each_action() {
    let (log, stats) = sync_equals_truth(&["--rows", "summaries"], &["--rate-limit", "0"]);
    assert_eq!(stats["detail_requests"], 1000, "{stats}");
    assert!(log.contains("1000 detail call(s)"), "{log}");
}

#[test]
fn bare_arrays() {
    sync_equals_truth(&["--shape", "bare"], &[]);
}

#[test]
fn a_server_that_ignores_paging_is_split_until_nothing_is_capped() {
    // Windows of 4 days hold about 130 actions: more than one capped page.
    let (log, _) = sync_equals_truth(&["--paging", "ignore"], &["--window", "4d"]);
    assert!(!log.contains(" 0 split(s)"), "{log}");
}

#[test]
fn an_interrupted_sync_resumes_its_pending_windows_without_fetching_them_again() {
    let env = Env::new();
    {
        // An outage after 12 requests: the sync fails, names the window, keeps what it got.
        let sim = Sim::start(&["--fail-after", "12"]);
        let r = sync_env(
            &env,
            &sim,
            "demo-secret",
            &sync_args(&["--max-retries", "1", "--workers", "1"]),
        );
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("sync stopped: window 2026-10-"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("the store is unchanged"), "{}", r.stderr);
        assert!(
            !env.store().join("manifest.json").exists(),
            "nothing committed"
        );
    }
    let pending = std::fs::read_dir(env.store().join("sync/pending"))
        .unwrap()
        .count();
    assert_eq!(pending, 12, "twelve whole windows kept");
    {
        let sim = Sim::start(&[]);
        let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr
                .contains("19 fetched, 12 resumed from an interrupted run"),
            "{}",
            r.stderr
        );
        assert_eq!(
            sim.stats()["list_requests"],
            19,
            "committed windows are not fetched again"
        );
    }
    {
        // Asked to, recently synced windows are skipped.
        let sim = Sim::start(&[]);
        let r = sync_env(
            &env,
            &sim,
            "demo-secret",
            &sync_args(&["--skip-synced-within", "1h"]),
        );
        assert!(
            r.stderr.contains(
                "0 fetched, 0 resumed from an interrupted run, 31 skipped (synced recently)"
            ),
            "{}",
            r.stderr
        );
        assert_eq!(sim.stats()["list_requests"], 0);
    }
    let (c, _) = truth();
    assert_eq!(env.report_csv("contracts", &["--period", "2026-10"]), c);
}

#[test]
fn a_killed_sync_leaves_the_store_usable_and_resumes() {
    let env = Env::new();
    let sim = Sim::start(&["--delay-ms", "60"]);
    let mut child = spawn_sync(&env, &sim, sync_args(&["--workers", "1"]), Stdio::null());
    let pending = env.store().join("sync/pending");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let whole = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter(|e| {
                    !e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with('.')
                })
                .count()
            })
            .unwrap_or(0)
    };
    while whole(&pending) < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "sync made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let kept = whole(&pending);
    assert!(kept >= 5);
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{kept} resumed from an interrupted run")),
        "{}",
        r.stderr
    );
    let (c, _) = truth();
    assert_eq!(env.report_csv("contracts", &["--period", "2026-10"]), c);
}

#[test]
fn a_second_sync_is_refused_while_the_first_runs() {
    let env = Env::new();
    let sim = Sim::start(&["--delay-ms", "40"]);
    let first = spawn_sync(&env, &sim, sync_args(&["--workers", "1"]), Stdio::piped());
    // The first holds the lock from its start, before its first window is fetched.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while lock_is_free(&env.store()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first sync never locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = sync_env(&env, &sim, "demo-secret", &sync_args(&["--workers", "1"]));
    assert_eq!(second.code, 75, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains(&format!("is being written by pid {}", first.id()))
            && second
                .stderr
                .contains("`halo-billing sync --period 2026-10 --workers 1`")
            && second.stderr.contains("nothing was done"),
        "{}",
        second.stderr
    );
    assert!(!second.stderr.contains("refused"), "{}", second.stderr);
    let rejects = env.store().join("rejects");
    assert!(!rejects.exists(), "no rejects file");
    // An import is refused the same way, at once.
    let import = env.import(&[&data("twenty-minutes.ndjson")]);
    assert_eq!(import.code, 75, "{}", import.stderr);
    // The first finishes normally, with the whole month.
    let out = first.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (c, _) = truth();
    assert_eq!(env.report_csv("contracts", &["--period", "2026-10"]), c);
}

#[test]
fn the_secret_appears_in_no_output_log_or_file() {
    let secret = "Zq9-very-secret-7731";
    let env = Env::new();
    let sim = Sim::start(&["--client-secret", secret]);
    let mut outputs = Vec::new();
    // A successful sync, a sync with the wrong secret, --help, and a settings error.
    let ok = sync_env(&env, &sim, secret, &sync_args(&[]));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    outputs.push(ok);
    let sim2 = Sim::start(&["--client-secret", "another-one"]);
    let bad = sync_env(&env, &sim2, secret, &sync_args(&["--refresh"]));
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("invalid_client"), "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("secret from environment variable HALO_CLIENT_SECRET"),
        "{}",
        bad.stderr
    );
    outputs.push(bad);
    let help = sync_env(&env, &sim, secret, &["sync".into(), "--help".into()]);
    assert!(
        help.stdout
            .contains("HALO_CLIENT_SECRET  set in the environment"),
        "{}",
        help.stdout
    );
    outputs.push(help);
    for r in &outputs {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "secret leaked:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    let mut files = Vec::new();
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    walk(env.dir.path(), &mut files);
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret written to {}",
            f.display()
        );
    }
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let env = Env::new();
    let o = Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(["sync", "--period", "2026-10"])
        .env("HALO_BILLING_STORE", env.store())
        .env("HALO_URL", "http://acme.halopsa.com")
        .env("HALO_CLIENT_ID", "x")
        .env("HALO_CLIENT_SECRET", "y")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("plain http is accepted only for loopback")
    );
}

#[test]
fn actions_halo_no_longer_returns_become_tombstones() {
    let env = Env::new();
    {
        let sim = Sim::start(&[]);
        let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let sim = Sim::start(&["--delete-every", "50"]);
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(&["--refresh"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // October holds actions 1000..2000 of the data set: every 50th is gone, 20 in all.
    assert!(r.stderr.contains("20 marked deleted"), "{}", r.stderr);
    let c = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(column_sum(&c, "actions"), rust_decimal::Decimal::from(980));
    let st = env.run(["status"]).ok();
    assert!(
        st.stdout
            .contains("deleted    20 action(s) Halo stopped returning"),
        "{}",
        st.stdout
    );
    // A later sync of the same data marks nothing again.
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(&["--refresh"]));
    assert!(
        r.stderr.contains("0 marked deleted") && r.stderr.contains("0 files written"),
        "{}",
        r.stderr
    );
}

#[test]
fn sync_killed_at_many_random_instants_ends_like_a_clean_run() {
    let sim = Sim::start(&["--delay-ms", "15"]);
    let spawn = |store: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_halo-billing"))
            .args([
                "-q",
                "sync",
                "--period",
                "2026-10",
                "--store",
                store.to_str().unwrap(),
            ])
            .env("HALO_URL", &sim.url)
            .env("HALO_CLIENT_ID", "demo")
            .env("HALO_CLIENT_SECRET", "demo-secret")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let env = Env::new();
    let t0 = std::time::Instant::now();
    assert!(spawn(&env.path("clean")).wait().unwrap().success());
    let full = t0.elapsed();
    let report = |store: &std::path::Path| {
        ["contracts", "invoices"].map(|k| {
            env.run([
                "report",
                k,
                "--period",
                "2026-10",
                "--store",
                store.to_str().unwrap(),
            ])
            .ok()
            .stdout
        })
    };
    let want = report(&env.path("clean"));
    // Several kills of one store at pseudo-random instants across a whole run
    // (fetching, importing, committing), then one run to completion.
    let store = env.path("killed");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..6 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = spawn(&store);
        std::thread::sleep(full.mul_f64((x % 1000) as f64 / 1000.0));
        let _ = child.kill();
        child.wait().unwrap();
        let committed = std::fs::read_to_string(store.join("manifest.json"))
            .is_ok_and(|m| m.contains("\"path\""));
        if committed {
            report(&store); // whatever was committed is readable
        }
    }
    assert!(spawn(&store).wait().unwrap().success());
    assert_eq!(
        report(&store),
        want,
        "state after kills and a rerun differs from a clean run"
    );
    assert!(lock_is_free(&store), "no writer holds the store's lock");
    let pending = std::fs::read_dir(store.join("sync/pending"))
        .unwrap()
        .count();
    assert_eq!(pending, 0, "pending windows were committed and removed");
}

#[test]
fn a_one_day_resync_rewrites_only_its_month() {
    let env = Env::new();
    {
        let sim = Sim::start(&[]);
        let all = [
            "sync".to_string(),
            "--from".into(),
            "2026-09-01".into(),
            "--to".into(),
            "2026-12-01".into(),
        ];
        let r = sync_env(&env, &sim, "demo-secret", &all);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // Halo changed: the same actions with other contents (another seed).
    let sim = Sim::start_with(
        &[
            "--actions",
            "3000",
            "--seed",
            "10",
            "--from",
            "2026-09",
            "--to",
            "2026-11",
        ],
        &[],
    );
    let day = [
        "sync".to_string(),
        "--from".into(),
        "2026-10-05".into(),
        "--to".into(),
        "2026-10-06".into(),
        "--refresh".into(),
    ];
    let r = sync_env(&env, &sim, "demo-secret", &day);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("(1 files written, 2 kept"),
        "only October is rewritten: {}",
        r.stderr
    );
}

/// October's action count in the store's contracts report.
fn october_actions(env: &Env) -> rust_decimal::Decimal {
    let c = env.report_csv("contracts", &["--period", "2026-10"]);
    column_sum(&c, "actions")
}

/// A store synced cleanly for October (1,000 actions).
fn synced_october() -> Env {
    let env = Env::new();
    let sim = Sim::start(&[]);
    sync_env(&env, &sim, "demo-secret", &sync_args(&[])).ok();
    assert_eq!(october_actions(&env), rust_decimal::Decimal::from(1000));
    env
}

fn misbehaving(how: &str) -> Sim {
    Sim::start(&["--misbehave", how, "--misbehave-on", "2026-10-15"])
}

#[test]
fn answers_that_are_not_pages_fail_the_sync_naming_window_request_and_answer() {
    let env = synced_october();
    for (how, shown) in [
        ("html", "<!DOCTYPE html>"),
        ("empty", "the body is empty"),
        (
            "error-json",
            r#"{"error":"An error has occurred.","ClassName""#,
        ),
    ] {
        let sim = misbehaving(how);
        let r = sync_env(
            &env,
            &sim,
            "demo-secret",
            &sync_args(&["--max-retries", "1"]),
        )
        .expect_code(1);
        assert!(
            r.stderr
                .contains("window 2026-10-15T00:00:00Z..2026-10-16T00:00:00Z"),
            "{how}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("/api/Actions?"), "{how}: {}", r.stderr);
        assert!(r.stderr.contains(shown), "{how}: {}", r.stderr);
        assert!(!r.stderr.contains("demo-secret"), "{how}: secret shown");
        assert_eq!(
            october_actions(&env),
            rust_decimal::Decimal::from(1000),
            "{how}: nothing stored may disappear"
        );
        // The failed run left pending windows; the next test run must fetch afresh.
        let _ = std::fs::remove_dir_all(env.store().join("sync/pending"));
    }
    let st = env.run(["status"]).ok();
    assert!(
        st.stdout.contains("deleted    0 action(s)"),
        "{}",
        st.stdout
    );
}

#[test]
fn a_refused_record_keeps_its_stored_copy_and_its_window_deletes_nothing() {
    let env = synced_october();
    let sim = misbehaving("nan");
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[])).expect_code(3);
    assert!(
        r.stderr.contains("`NaN` is not a finite number"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("1 refused record(s) have a stored copy, which stays"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("window(s) with refused records deleted nothing"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("0 marked deleted"), "{}", r.stderr);
    assert_eq!(october_actions(&env), rust_decimal::Decimal::from(1000));
}

#[test]
fn an_empty_page_for_a_day_that_held_actions_is_held_back_with_exit_4() {
    let env = synced_october();
    let sim = misbehaving("empty-page");
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[])).expect_code(4);
    assert!(r.stderr.contains("deletion(s) held back"), "{}", r.stderr);
    assert!(r.stderr.contains("would lose every action"), "{}", r.stderr);
    // Each window on its own line; the actions by (ticket_id, id), all of them in a
    // file under the store.
    assert!(
        r.stderr.contains(
            "\n  2026-10-15T00:00:00Z..2026-10-16T00:00:00Z: 32 of 32 stored action(s) no longer returned\n"
        ),
        "the window is named: {}",
        r.stderr
    );
    let listed: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("check these in Halo, (ticket_id, id): ("))
        .collect();
    assert_eq!(listed.len(), 1, "{}", r.stderr);
    assert_eq!(
        listed[0].matches(") (").count() + 1,
        20,
        "the first 20 on screen: {}",
        listed[0]
    );
    assert!(listed[0].ends_with("… (12 more)"), "{}", listed[0]);
    let file = r
        .stderr
        .lines()
        .find_map(|l| l.split("all 32 are listed in `").nth(1))
        .map(|rest| rest.trim_end_matches('`').to_string())
        .unwrap_or_else(|| panic!("the file is named: {}", r.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(file.starts_with(env.store().to_str().unwrap()), "{file}");
    assert_eq!(
        text.lines().count(),
        33,
        "a header and every held action: {text}"
    );
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .ends_with(",2026-10-15T00:00:00Z,2026-10-16T00:00:00Z"),
        "{text}"
    );
    assert!(r.stderr.contains("--accept-deletions"), "{}", r.stderr);
    assert_eq!(october_actions(&env), rust_decimal::Decimal::from(1000));
    // Accepted, they go.
    let r = sync_env(
        &env,
        &sim,
        "demo-secret",
        &sync_args(&["--accept-deletions"]),
    )
    .ok();
    assert!(!r.stderr.contains(" 0 marked deleted"), "{}", r.stderr);
    assert!(october_actions(&env) < rust_decimal::Decimal::from(1000));
}

#[test]
fn stored_actions_of_a_month_that_halo_answers_empty_are_held_back_though_no_input_touches_it() {
    // August is in the store (imported) but Halo (the simulator serves September and
    // October) has nothing there: every synced August window is complete and empty. The
    // commit must weigh August's stored actions although no fetched action lands in it.
    let env = synced_october();
    let aug = env.write(
        "august.ndjson",
        concat!(
            r#"{"id":1,"ticket_id":900001,"datetime":"2026-08-10T10:00:00Z","action_contract_id":3,"actionchargeamount":10}"#,
            "\n",
            r#"{"id":2,"ticket_id":900001,"datetime":"2026-08-11T10:00:00Z","action_contract_id":3,"actionchargeamount":5}"#,
            "\n"
        ),
    );
    env.import(&[&aug]).ok();
    let sim = Sim::start(&[]);
    let args: Vec<String> = ["sync", "--from", "2026-08-01", "--to", "2026-11-01"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let r = sync_env(&env, &sim, "demo-secret", &args).expect_code(4);
    assert!(r.stderr.contains("2 deletion(s) held back"), "{}", r.stderr);
    assert!(r.stderr.contains("would lose every action"), "{}", r.stderr);
    let aug = env.report_csv("contracts", &["--period", "2026-08"]);
    assert_eq!(cell(&aug, row(&aug, "3"), "chargeable_amount"), "15.00");
}

#[test]
fn more_deletions_than_the_limit_are_held_back_and_the_limit_is_settable() {
    let env = synced_october();
    // Every 20th action gone: 50 of October's 1,000, more than the default 25.
    let sim = Sim::start(&["--delete-every", "20"]);
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[])).expect_code(4);
    assert!(
        r.stderr
            .contains("50 actions would be deleted, more than the limit of 25"),
        "{}",
        r.stderr
    );
    assert_eq!(october_actions(&env), rust_decimal::Decimal::from(1000));
    // 50 of 1,000 is 5%, not more: with a higher count limit they are taken.
    let r = sync_env(
        &env,
        &sim,
        "demo-secret",
        &sync_args(&["--max-deletions", "60", "--max-deletion-share", "4.9%"]),
    )
    .expect_code(4);
    assert!(r.stderr.contains("more than 4.9%"), "{}", r.stderr);
    let r = sync_env(
        &env,
        &sim,
        "demo-secret",
        &sync_args(&["--max-deletions", "60"]),
    )
    .ok();
    assert!(r.stderr.contains("50 marked deleted"), "{}", r.stderr);
    assert_eq!(october_actions(&env), rust_decimal::Decimal::from(950));
}

#[test]
fn a_second_sync_of_a_period_sees_entries_logged_since_the_first() {
    let env = Env::new();
    {
        // The first sync ran before 20 entries were logged.
        let sim = Sim::start(&["--delete-every", "50"]);
        sync_env(&env, &sim, "demo-secret", &sync_args(&[])).ok();
        assert_eq!(october_actions(&env), rust_decimal::Decimal::from(980));
    }
    let sim = Sim::start(&[]);
    let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[])).ok();
    assert!(r.stderr.contains("31 fetched"), "{}", r.stderr);
    assert!(r.stderr.contains("20 new"), "{}", r.stderr);
    let (c, _) = truth();
    assert_eq!(env.report_csv("contracts", &["--period", "2026-10"]), c);
}

#[test]
fn a_retry_after_longer_than_15_minutes_fails_the_sync_instead_of_hanging() {
    let env = Env::new();
    let sim = Sim::start(&["--rate-limit", "3/600", "--retry-after", "1000"]);
    let t0 = std::time::Instant::now();
    let r = sync_env(
        &env,
        &sim,
        "demo-secret",
        &sync_args(&["--rate-limit", "0"]),
    )
    .expect_code(1);
    assert!(
        r.stderr
            .contains("Retry-After: 1000 s, more than the 900 s this client waits"),
        "{}",
        r.stderr
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(30));
    assert!(
        !env.store().join("manifest.json").exists(),
        "nothing committed"
    );
}

#[test]
fn ctrl_c_or_sigterm_during_a_sync_says_what_was_kept_and_exits_130_or_143() {
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let env = Env::new();
        let sim = Sim::start(&["--delay-ms", "100"]);
        let child = Command::new(env!("CARGO_BIN_EXE_halo-billing"))
            .args(sync_args(&["--workers", "1"]))
            .current_dir(env.dir.path())
            .env("HALO_BILLING_STORE", env.store())
            .env("HALO_URL", &sim.url)
            .env("HALO_CLIENT_ID", "demo")
            .env("HALO_CLIENT_SECRET", "demo-secret")
            .env("XDG_CONFIG_HOME", env.path("config"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pending = env.store().join("sync/pending");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::fs::read_dir(&pending)
            .map(|d| {
                d.filter(|e| {
                    !e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with('.')
                })
                .count()
            })
            .unwrap_or(0)
            < 3
        {
            assert!(std::time::Instant::now() < deadline, "no window fetched");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "SIG{sig}: {err}");
        assert!(
            err.contains(&format!("interrupted by SIG{sig}: nothing was committed;")),
            "{err}"
        );
        assert!(
            err.contains("running the same sync again resumes from them"),
            "{err}"
        );
        assert!(err.contains("fetching windows: failed"), "{err}");
        assert!(!env.store().join("manifest.json").exists());
        let r = sync_env(&env, &sim, "demo-secret", &sync_args(&[])).ok();
        assert!(
            !r.stderr.contains(" 0 resumed from an interrupted run"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_time_zone_reaching_past_the_synced_days_warns_with_the_gap_and_the_sync_that_fills_it() {
    let env = synced_october();
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--timezone",
            "America/New_York",
        ])
        .ok();
    assert!(
        r.stderr
            .contains("does not cover 2026-11-01T00:00:00Z .. 2026-11-01T04:00:00Z"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("halo-billing sync --from 2026-11-01 --to 2026-11-02"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_long_wait_on_the_rate_limit_says_what_it_waits_for() {
    let env = Env::new();
    let sim = Sim::start(&[]);
    let args: Vec<String> = [
        "sync",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-03",
        "--rate-limit",
        "2",
        "--rate-window",
        "3s",
        "--workers",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let r = sync_env(&env, &sim, "demo-secret", &args).ok();
    assert!(
        r.stderr.contains(
            "for the client-side rate limit (2 requests per 3 s; --rate-limit, --rate-window)"
        ),
        "{}",
        r.stderr
    );
}
