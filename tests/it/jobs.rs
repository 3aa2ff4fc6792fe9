//! `jobs`: unattended month-end runs with outputs a scheduler can trust.

use crate::common;
use common::*;
use std::path::Path;

/// A filled-in mapping for 2026-10 at `m.toml` (with DATEV's header numbers).
fn mapping(env: &Env) {
    env.run(["export", "--init-mapping", "m.toml", "--period", "2026-10"])
        .ok();
    let text = std::fs::read_to_string(env.path("m.toml"))
        .unwrap()
        .replace(
            "customer = \"FILL-IN\"",
            "customer = \"Client\"\ninvoice_per = \"contract\"",
        );
    // Work without a contract is invoiced too, so no export leaves work out.
    env.write(
        "m.toml",
        &(text
            + "\n[contracts.none]\ncustomer = \"Walk-in\"\n"
            + "\n[datev]\nconsultant = 1001\nclient = 7\n"),
    );
}

const JOBS: &str = r#"
[[job]]
name = "month-end"
period = "previous-month"
reports = ["contracts", "invoices", "unbilled"]
exports = ["xero", "datev"]
mapping = "m.toml"
out = "out/{period}/{name}"
"#;

fn manifests(store: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(store.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_job_run_twice_writes_byte_identical_outputs_and_a_manifest_each_time() {
    let env = Env::new();
    env.generated("3000", "51");
    mapping(&env);
    env.write("jobs.toml", JOBS);
    let list = env
        .run([
            "jobs",
            "list",
            "--jobs",
            "jobs.toml",
            "--as-of",
            "2026-11-05",
        ])
        .ok()
        .stdout;
    assert!(
        list.contains("month-end") && list.contains("previous-month -> 2026-10"),
        "{list}"
    );
    let run = || {
        env.run([
            "jobs",
            "run",
            "month-end",
            "--jobs",
            "jobs.toml",
            "--as-of",
            "2026-11-05",
        ])
        .ok()
    };
    let first = run();
    assert!(
        first
            .stderr
            .contains("job month-end (2026-10): ok, 5 file(s)"),
        "{}",
        first.stderr
    );
    let dir = env.path("out/2026-10/month-end");
    for f in [
        "contracts.csv",
        "invoices.csv",
        "unbilled.csv",
        "xero.csv",
        "EXTF_Buchungsstapel_2026-10.csv",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // The job's report is the command's report.
    let by_hand = env
        .run(["report", "contracts", "--period", "2026-10"])
        .ok()
        .stdout;
    assert_eq!(
        std::fs::read_to_string(dir.join("contracts.csv")).unwrap(),
        by_hand
    );
    let second = run();
    assert!(second.stderr.contains("ok, 5 file(s)"), "{}", second.stderr);
    let m = manifests(&env.store());
    assert_eq!(m.len(), 2, "a manifest per run");
    for run in &m {
        assert_eq!(run["job"], "month-end");
        assert_eq!(run["period"], "2026-10");
        assert_eq!(run["as_of"], "2026-11-05");
        assert_eq!(run["outcome"], "ok");
        assert_eq!(run["exit_code"], 0);
        assert!(run["store_generation"].as_u64().unwrap() >= 1);
        assert_eq!(
            run["inputs"].as_array().unwrap().len(),
            2,
            "jobs file and mapping"
        );
        assert_eq!(run["steps"].as_array().unwrap().len(), 5);
        for o in run["outputs"].as_array().unwrap() {
            let p = Path::new(o["path"].as_str().unwrap());
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                env.path("").join(p)
            };
            assert_eq!(o["sha256"].as_str().unwrap(), sha256(&p), "{p:?}");
            assert_eq!(
                o["bytes"].as_u64().unwrap(),
                std::fs::metadata(&p).unwrap().len()
            );
        }
    }
    let hashes = |r: &serde_json::Value| -> Vec<(String, String)> {
        r["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["path"].as_str().unwrap().to_string(),
                    o["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(hashes(&m[0]).len(), 5);
    assert_eq!(
        hashes(&m[0]),
        hashes(&m[1]),
        "same store, same inputs: same bytes"
    );
}

#[test]
fn a_failing_job_does_not_stop_the_others_and_the_exit_code_says_so() {
    let env = Env::new();
    env.generated("2000", "52");
    mapping(&env);
    // `broken` exports with a mapping that lacks every contract section.
    env.write(
        "empty.toml",
        "[defaults]\naccount_code = \"200\"\ntax_type = \"T\"\nterms_days = 30\n",
    );
    env.write(
        "jobs.toml",
        r#"
[[job]]
name = "broken"
period = "2026-10"
reports = ["contracts"]
exports = ["xero"]
mapping = "empty.toml"

[[job]]
name = "fine"
period = "2026-10"
reports = ["invoices"]
"#,
    );
    let r = env
        .run(["jobs", "run", "--all", "--jobs", "jobs.toml"])
        .expect_code(2);
    assert!(
        r.stderr.contains("job broken (2026-10): FAILED (exit 2)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("no [contracts.ID] section"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("job fine (2026-10): ok, 1 file(s)"),
        "{}",
        r.stderr
    );
    // The broken job's report was still written; its export was not.
    assert!(env.path("out/2026-10/broken/contracts.csv").is_file());
    assert!(!env.path("out/2026-10/broken/xero.csv").exists());
    assert!(env.path("out/2026-10/fine/invoices.csv").is_file());
    let m = manifests(&env.store());
    let by_job = |n: &str| m.iter().find(|r| r["job"] == n).unwrap().clone();
    let broken = by_job("broken");
    assert_eq!(broken["outcome"], "failed");
    assert_eq!(broken["exit_code"], 2);
    // The export runs first (exit 2), the report after it (exit 0).
    assert_eq!(broken["steps"][0]["step"], "export xero");
    assert_eq!(broken["steps"][0]["exit_code"], 2);
    assert_eq!(broken["steps"][1]["exit_code"], 0);
    assert_eq!(by_job("fine")["outcome"], "ok");
    // An unknown job name is refused with the names there are.
    let e = env
        .run(["jobs", "run", "nope", "--jobs", "jobs.toml"])
        .expect_code(2);
    assert!(e.stderr.contains("its jobs: broken, fine"), "{}", e.stderr);
}

#[test]
fn jobs_list_refuses_a_jobs_file_naming_every_problem_and_runs_nothing() {
    let env = Env::new();
    env.generated("1000", "53");
    env.write(
        "jobs.toml",
        r#"
[[job]]
name = "typos"
period = "2026-10"
timezone = "Mars/Olympus"
reports = ["contrcts", "pack"]
exports = ["xero", "xls"]
mapping = "missing.toml"
balances = "no-blocks.csv"
out = "out/{month}"

[[job]]
name = "sync-typos"
period = "2026-10"
sync = true
config = "nope.toml"
sync_options = { window = "1x", max_deletion_share = "lots", workers = 99 }
reports = ["contracts"]
"#,
    );
    for args in [
        vec!["jobs", "list", "--jobs", "jobs.toml"],
        vec!["jobs", "run", "--all", "--jobs", "jobs.toml"],
    ] {
        let r = env.run(&args).expect_code(2);
        for problem in [
            "export `xls` is not one of xero, quickbooks, datev, csv",
            "job `typos`: there is no report `contrcts` (did you mean `contracts`?)",
            "job `typos`: cannot read the mapping `./missing.toml`",
            "job `typos`: balances file `./no-blocks.csv`",
            "job `typos`: `Mars/Olympus` is not an IANA time zone name",
            "job `typos`: out `out/{month}` names `{month}`",
            "job `sync-typos`: the sync config `./nope.toml` does not exist",
            "job `sync-typos`: sync_options.window: `1x` is not a duration",
            "job `sync-typos`: sync_options.max_deletion_share: `lots` is not a share",
            "job `sync-typos`: sync_options.workers 99 is not 1 to 16",
        ] {
            assert!(
                r.stderr.contains(problem),
                "{args:?}: {problem}\n{}",
                r.stderr
            );
        }
        assert!(!env.path("out").exists(), "nothing ran");
        assert!(!env.store().join("runs").exists(), "nothing ran");
    }
}

/// `jobs run --jobs jobs.toml` and `extra` in the background, standard error piped.
fn spawn_jobs(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(["jobs", "run", "--jobs", "jobs.toml"])
        .args(extra)
        .current_dir(env.dir.path())
        .env("HALO_BILLING_STORE", env.store())
        .env("XDG_CONFIG_HOME", env.path("config"))
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `jobs run NAME --jobs jobs.toml` and `extra`, with standard error read line by line as
/// it comes: each line and when it arrived (ms after the start).
fn run_streaming(
    env: &Env,
    extra: &[&str],
    vars: &[(&str, &str)],
) -> (Option<i32>, Vec<(u128, String)>) {
    use std::io::BufRead;
    let started = std::time::Instant::now();
    let mut child = spawn_jobs(env, extra, vars);
    let lines = std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map(|l| (started.elapsed().as_millis(), l.unwrap()))
        .collect();
    (child.wait().unwrap().code(), lines)
}

fn sim_env(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![
        ("HALO_URL", sim.url.clone()),
        ("HALO_CLIENT_ID", "demo".into()),
        ("HALO_CLIENT_SECRET", "demo-secret".into()),
    ]
}

const SIM_DATA: [&str; 8] = [
    "--actions",
    "3000",
    "--seed",
    "54",
    "--from",
    "2026-09",
    "--to",
    "2026-11",
];

#[test]
fn step_output_is_streamed_as_it_comes_each_line_with_its_time_and_sync_options_reach_the_sync() {
    let env = Env::new();
    let sim = Sim::start_with(&SIM_DATA, &["--delay-ms", "60"]);
    env.write(
        "jobs.toml",
        r#"
[[job]]
name = "nightly"
period = "2026-10"
sync = true
sync_options = { window = "12h", workers = 1, rate_limit = 1000, max_deletions = 5 }
reports = ["contracts", "pack"]
"#,
    );
    let vars = sim_env(&sim);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The prepaid blocks were bought on 1 September (Halo's prepay records): their
    // balances in the pack need the store's history from then, or --strict stops it.
    env.run_with_env(&["sync", "--period", "2026-09", "--only", "actions"], &vars)
        .ok();
    let (code, lines) = run_streaming(&env, &["nightly"], &vars);
    let text: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(code, Some(0), "{}", text.join("\n"));
    // Every line: the time, the job, the step.
    let stamped = regex_like_time;
    for l in &text {
        assert!(stamped(l), "{l}");
    }
    // The sync's first line arrived long before it ended (66 windows of 12 h, slowly).
    let at = |needle: &str| {
        lines
            .iter()
            .find(|l| l.1.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in\n{}", text.join("\n")))
            .0
    };
    let first = at("[nightly] sync: fetching windows: started (66 to do)");
    let ended = at("[nightly] sync: ended: exit 0");
    assert!(
        ended > first + 1000,
        "streamed: {first} ms, ended {ended} ms"
    );
    assert!(
        text.iter().any(|l| l.contains("synced 66 window(s)")),
        "{text:?}"
    );
    // reports = ["pack"] writes the HTML pack.
    let pack = std::fs::read_to_string(env.path("out/2026-10/nightly/pack.html")).unwrap();
    assert!(pack.starts_with("<!DOCTYPE html>"), "{}", &pack[..80]);
    // -q: only the outcome; --log-format json: one object a line.
    let (code, lines) = run_streaming(&env, &["nightly", "-q", "--log-format", "json"], &vars);
    assert_eq!(code, Some(0));
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0].1).unwrap();
    assert_eq!(v["job"], "nightly");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("job nightly (2026-10): ok"),
        "{v}"
    );
    assert!(v["time"].as_str().unwrap().ends_with('Z'), "{v}");
}

/// Whether a line starts `YYYY-MM-DDTHH:MM:SSZ [`.
fn regex_like_time(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 22
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'Z'
        && &line[20..22] == " ["
        && b[..4].iter().all(u8::is_ascii_digit)
}

#[test]
fn sigterm_mid_sync_stops_the_step_and_leaves_a_manifest_of_the_interrupted_run() {
    let env = Env::new();
    let sim = Sim::start_with(&SIM_DATA, &["--delay-ms", "100"]);
    env.write(
        "jobs.toml",
        "[[job]]\nname = \"slow\"\nperiod = \"2026-10\"\nsync = true\nsync_options = { workers = 1 }\nreports = [\"contracts\"]\n",
    );
    let vars = sim_env(&sim);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let child = spawn_jobs(&env, &["slow"], &vars);
    // Wait until the sync has fetched a few windows, then stop the runner as a scheduler
    // would (`kill PID`, systemd's stop with KillMode=mixed).
    let pending = env.store().join("sync/pending");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&pending).map(|d| d.count()).unwrap_or(0) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync made no progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) with the pid of our own child and SIGTERM.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("SIGTERM: stopping the step"), "{err}");
    assert!(
        err.contains("job slow (2026-10): INTERRUPTED (exit 143)"),
        "{err}"
    );
    let m = manifests(&env.store());
    assert_eq!(m.len(), 1, "a manifest for the interrupted run");
    assert_eq!(m[0]["outcome"], "interrupted");
    assert_eq!(m[0]["exit_code"], 143);
    assert_eq!(m[0]["steps"][0]["step"], "sync");
    assert_eq!(m[0]["steps"][0]["exit_code"], 143);
    assert_eq!(
        m[0]["steps"].as_array().unwrap().len(),
        1,
        "no step after the stop"
    );
    // The sync stopped cleanly: its windows are kept for the next run.
    assert!(std::fs::read_dir(&pending).unwrap().count() >= 3);
}

#[test]
fn a_job_whose_export_leaves_work_out_ends_in_attention_with_exit_6() {
    let env = Env::new();
    env.generated("3000", "55");
    filled_mapping(&env, "2026-10");
    env.write(
        "jobs.toml",
        "[[job]]\nname = \"bill\"\nperiod = \"2026-10\"\nexports = [\"xero\"]\nmapping = \"m.toml\"\nreports = [\"unbilled\"]\n",
    );
    let r = env
        .run(["jobs", "run", "bill", "--jobs", "jobs.toml"])
        .expect_code(6);
    assert!(
        r.stderr
            .contains("job bill (2026-10): ATTENTION (exit 6: work was left out of an export)"),
        "{}",
        r.stderr
    );
    let m = &manifests(&env.store())[0];
    assert_eq!(m["outcome"], "attention");
    assert_eq!(m["exit_code"], 6);
    assert!(m["warnings"].as_u64().unwrap() >= 1, "{m}");
    assert_eq!(m["steps"][0]["step"], "export xero");
    assert!(m["steps"][0]["warnings"].as_u64().unwrap() >= 1, "{m}");
    // The unbilled report after the export says what is left: the work without a contract.
    let rows =
        parse_csv(&std::fs::read_to_string(env.path("out/2026-10/bill/unbilled.csv")).unwrap());
    let none = rows[1..].iter().find(|r| r[0].is_empty()).unwrap();
    assert_eq!(cell(&rows, none, "exported_amount"), "0.00");
    for r in rows[1..].iter().filter(|r| !r[0].is_empty()) {
        assert_eq!(
            cell(&rows, r, "exported_amount"),
            cell(&rows, r, "chargeable_amount")
        );
    }
}

#[test]
fn a_job_of_a_period_the_store_does_not_cover_exits_5_without_exporting() {
    let env = Env::new();
    env.generated("1000", "56");
    filled_mapping(&env, "2026-10");
    env.write(
        "jobs.toml",
        "[[job]]\nname = \"old\"\nperiod = \"2025-11\"\nexports = [\"xero\"]\nmapping = \"m.toml\"\n",
    );
    let r = env
        .run(["jobs", "run", "old", "--jobs", "jobs.toml"])
        .expect_code(5);
    assert!(
        r.stderr.contains("the export was not written"),
        "{}",
        r.stderr
    );
    assert!(!env.path("out/2025-11/old/xero.csv").exists());
    assert_eq!(manifests(&env.store())[0]["outcome"], "failed");
}

#[test]
fn a_job_without_a_zone_runs_in_the_stores() {
    let env = Env::new();
    env.generated("2000", "57");
    env.run([
        "close",
        "--period",
        "2026-09",
        "--timezone",
        "Europe/London",
    ])
    .ok();
    env.write(
        "jobs.toml",
        "[[job]]\nname = \"uk\"\nperiod = \"2026-10\"\nreports = [\"contracts\"]\n",
    );
    let list = env.run(["jobs", "list", "--jobs", "jobs.toml"]).ok().stdout;
    assert!(
        list.contains("2026-10 -> 2026-10 (Europe/London)"),
        "{list}"
    );
    env.run(["jobs", "run", "uk", "--jobs", "jobs.toml"]).ok();
    let by_hand = env
        .run(["report", "contracts", "--period", "2026-10"])
        .ok()
        .stdout;
    assert_eq!(
        std::fs::read_to_string(env.path("out/2026-10/uk/contracts.csv")).unwrap(),
        by_hand
    );
}

#[test]
fn a_jobs_out_outside_its_folder_or_a_report_named_like_an_option_is_refused() {
    let env = Env::new();
    env.generated("1000", "58");
    for (job, says) in [
        (
            "out = \"../escape/{name}\"",
            "out `../escape/{name}` leaves the jobs file's folder",
        ),
        (
            "out = \"/tmp/anywhere/{name}\"",
            "out `/tmp/anywhere/{name}` leaves the jobs file's folder",
        ),
        ("out = \"store/{name}\"", "is inside the store"),
        ("reports = [\"--help\"]", "there is no report `--help`"),
    ] {
        let text = if job.starts_with("reports") {
            format!("[[job]]\nname = \"j\"\nperiod = \"2026-10\"\n{job}\n")
        } else {
            format!(
                "[[job]]\nname = \"j\"\nperiod = \"2026-10\"\nreports = [\"contracts\"]\n{job}\n"
            )
        };
        env.write("jobs.toml", &text);
        let r = env
            .run(["jobs", "run", "--all", "--jobs", "jobs.toml"])
            .expect_code(2);
        assert!(r.stderr.contains(says), "{job}: {}", r.stderr);
        assert!(!env.path("../escape").exists() && !env.store().join("j").exists());
    }
    // Said explicitly, a folder elsewhere is allowed.
    env.write(
        "jobs.toml",
        "[[job]]\nname = \"j\"\nperiod = \"2026-10\"\nreports = [\"contracts\"]\nout = \"../elsewhere-j\"\nout_anywhere = true\n",
    );
    env.run(["jobs", "list", "--jobs", "jobs.toml"]).ok();
}
