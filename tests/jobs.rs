//! `jobs`: unattended month-end runs with outputs a scheduler can trust.

mod common;
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
