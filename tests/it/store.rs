//! The store under re-imports, concurrent writers and kills at random instants.

use crate::common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn manifest(env: &Env, store: &std::path::Path) -> serde_json::Value {
    let _ = env;
    serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap()
}

fn reports(env: &Env, store: &std::path::Path) -> Vec<String> {
    ["2026-09", "2026-10", "2026-11"]
        .iter()
        .flat_map(|p| ["contracts", "invoices"].map(|k| (k, *p)))
        .map(|(k, p)| {
            let r = env
                .run([
                    "report",
                    k,
                    "--period",
                    p,
                    "--store",
                    store.to_str().unwrap(),
                ])
                .ok();
            r.stdout
        })
        .collect()
}

/// Every file the manifest names exists with its row count; reports run.
fn assert_consistent(env: &Env, store: &std::path::Path) {
    if !store.join("manifest.json").exists() {
        return; // nothing committed yet: the previous (empty) state
    }
    let m = manifest(env, store);
    if m["files"].as_array().unwrap().is_empty() {
        return; // a new store's empty manifest, written before its first commit
    }
    for f in m["files"].as_array().unwrap() {
        let p = store.join(f["path"].as_str().unwrap());
        assert!(p.exists(), "manifest names missing file {}", p.display());
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            f["bytes"].as_u64().unwrap(),
            "{}",
            p.display()
        );
    }
    reports(env, store);
}

#[test]
fn reimporting_the_same_data_writes_nothing() {
    let env = Env::new();
    env.generated("3000", "4");
    let before = manifest(&env, &env.store());
    let r = env.import(&[&env.path("gen")]).ok();
    assert!(
        r.stderr.contains(" 0 new, 0 updated, 3000 unchanged"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("(0 files written, 3 kept, 0 bytes written)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        manifest(&env, &env.store()),
        before,
        "manifest untouched: same generation, same files"
    );
}

#[test]
fn an_edit_rewrites_only_its_month() {
    let env = Env::new();
    env.generated("3000", "4");
    let edit = env.write(
        "edit.json",
        r#"[{"id":1,"ticket_id":10200,"datetime":"2026-10-01T09:00:00Z","last_updated":"2027-01-01T00:00:00Z","timetaken":9.0,"actionchargeamount":900}]"#,
    );
    let r = env.import(&[&edit]).ok();
    assert!(
        r.stderr.contains("1 updated") || r.stderr.contains("1 new"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("(1 files written, 2 kept, "),
        "{}",
        r.stderr
    );
}

#[test]
fn a_second_writer_is_refused_with_the_holder_and_a_dead_holders_lock_is_no_lock() {
    let env = Env::new();
    std::fs::create_dir_all(env.store()).unwrap();
    let lock = env.store().join(".lock");
    // Another process holds the operating system's lock on the file.
    // (`-o`: flock itself holds the lock, not the command it runs.)
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock(1) from util-linux");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lock_is_free(&env.store()) {
        assert!(
            std::time::Instant::now() < deadline,
            "flock never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::write(&lock, "4242 2026-11-28T05:00:00Z\n").unwrap();
    // A lock file of an earlier version (pid and time only) still names its holder;
    // the refusal has its own exit code (75: try again later).
    let r = env
        .import(&[&data("twenty-minutes.ndjson")])
        .expect_code(75);
    assert!(
        r.stderr
            .contains("is being written by pid 4242 since 2026-11-28T05:00:00Z"),
        "{}",
        r.stderr
    );
    let st = env.run(["status"]).ok();
    assert!(
        st.stdout.contains("lock       held by pid 4242"),
        "{}",
        st.stdout
    );
    // The holder dies: its lock goes with it, whatever the file says.
    holder.kill().unwrap();
    holder.wait().unwrap();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let st = env.run(["status"]).ok();
    assert!(!st.stdout.contains("lock "), "{}", st.stdout);
    assert!(lock_is_free(&env.store()));
}

#[test]
fn import_killed_at_random_instants_recovers_to_the_clean_state() {
    let env = Env::new();
    env.generate("40000", "8");
    killed_at_random_instants_recovers(&env, 8);
}

#[test]
fn import_killed_while_finished_files_are_staged_and_moved_recovers_to_the_clean_state() {
    // 140,000 actions in one month: two files' worth are staged as finished store files
    // and moved into the store by the commit (the rest spilled and rewritten).
    let env = october_pages("140000", "3");
    killed_at_random_instants_recovers(&env, 4);
}

/// `import --store STORE gen/`.
fn import_into(env: &Env, store: &Path) -> Run {
    env.run([
        "import",
        "--store",
        store.to_str().unwrap(),
        env.path("gen").to_str().unwrap(),
    ])
}

/// Kills imports of `gen/` at deterministic "random" instants (`iterations`, a second
/// kill during the recovery of every other one): each killed store is consistent, and
/// the next import leaves it as one clean run does, with nothing left behind.
fn killed_at_random_instants_recovers(env: &Env, iterations: usize) {
    let clean = env.path("clean");
    let t0 = Instant::now();
    import_into(env, &clean).ok();
    let full = t0.elapsed();
    let want = reports(env, &clean);
    let want_rows = manifest(env, &clean)["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rows"].as_u64().unwrap())
        .sum::<u64>();

    // Deterministic "random" instants spread over the clean run's duration, plus a
    // second kill during the recovery run of some iterations.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let store = env.path(&format!("s{i}"));
        for round in 0..=(i % 2) {
            let at = full.mul_f64(((x >> (8 * round)) % 1000) as f64 / 1000.0);
            let mut child = Command::new(env!("CARGO_BIN_EXE_halo-billing"))
                .args([
                    "-q",
                    "import",
                    "--store",
                    store.to_str().unwrap(),
                    env.path("gen").to_str().unwrap(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(at);
            let _ = child.kill(); // SIGKILL
            child.wait().unwrap();
            assert_consistent(env, &store);
        }
        let r = import_into(env, &store).ok();
        assert!(!r.stderr.contains("locked"), "{}", r.stderr);
        assert_eq!(
            reports(env, &store),
            want,
            "iteration {i}: state after recovery differs from a clean run"
        );
        assert!(lock_is_free(&store), "no writer holds the lock");
        let m = manifest(env, &store);
        let rows: u64 = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rows"].as_u64().unwrap())
            .sum();
        assert_eq!(rows, want_rows);
        // Nothing left behind: no staging folders, temporary files or unnamed data files.
        let named: Vec<String> = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect();
        let mut stack = vec![store.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p
                    .strip_prefix(&store)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if p.is_dir() {
                    assert!(!rel.starts_with(".staging"), "left behind: {rel}");
                    stack.push(p);
                } else if rel.starts_with("actions/") {
                    assert!(named.contains(&rel), "unnamed data file left: {rel}");
                } else {
                    assert!(!rel.contains(".tmp-"), "left behind: {rel}");
                }
            }
        }
    }
    let _ = Duration::ZERO;
}

#[test]
fn status_verify_checks_every_file_against_the_manifest() {
    let env = Env::new();
    env.import(&[&data("twenty-minutes.ndjson")]).ok();
    let r = env.run(["status", "--verify"]).ok();
    assert!(r.stdout.contains("all 1 file(s) match"), "{}", r.stdout);
    let m = manifest(&env, &env.store());
    let file = env.store().join(m["files"][0]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let r = env.run(["status", "--verify"]).expect_code(1);
    assert!(
        r.stderr.contains("SHA-256 differs from the manifest"),
        "{}",
        r.stderr
    );
}

/// October's actions, one NDJSON line each, every one charged `amount`.
fn october_lines(n: usize, amount: &str) -> String {
    (1..=n)
        .map(|i| {
            format!(
                r#"{{"id":{i},"ticket_id":7,"datetime":"2026-10-{:02}T10:00:00Z","timetaken":0.5,"action_contract_id":{},"actionchargeamount":{amount}}}"#,
                1 + i % 28,
                100 + i % 9
            ) + "\n"
        })
        .collect()
}

#[test]
fn a_report_whose_files_a_commit_removed_reads_the_new_manifest_and_succeeds() {
    let env = Env::new();
    let v1 = env.write("v1.ndjson", &october_lines(3000, "10.00"));
    let v2 = env.write("v2.ndjson", &october_lines(3000, "12.50"));
    env.import(&[&v1]).ok();
    let want_v1 = env
        .run(["report", "contracts", "--period", "2026-10"])
        .ok()
        .stdout;
    // A report reads the manifest, then pauses; meanwhile a commit replaces October's
    // files and, with no grace period, removes the old ones at once.
    let reader = Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(["report", "contracts", "--period", "2026-10"])
        .env("HALO_BILLING_STORE", env.store())
        .env("HALO_BILLING_TEST_PAUSE_AFTER_MANIFEST_MS", "1500")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let v2_arg = v2.display().to_string();
    env.run_with_env(&["import", &v2_arg], &[("HALO_BILLING_KEEP_REPLACED", "0")])
        .ok();
    let out = reader.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want_v2 = env
        .run(["report", "contracts", "--period", "2026-10"])
        .ok()
        .stdout;
    assert_ne!(want_v1, want_v2);
    assert_eq!(String::from_utf8_lossy(&out.stdout), want_v2);

    // And reports in a loop while imports commit in a loop: every one succeeds with one
    // consistent state.
    let store = env.store();
    let writer = std::thread::spawn(move || {
        for k in 0..8 {
            let f = if k % 2 == 0 { &v1 } else { &v2 };
            let o = Command::new(env!("CARGO_BIN_EXE_halo-billing"))
                .args(["-q", "import", f.to_str().unwrap()])
                .env("HALO_BILLING_STORE", &store)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    });
    let mut reports = 0;
    while !writer.is_finished() {
        let r = env.run(["report", "contracts", "--period", "2026-10"]).ok();
        assert!(
            r.stdout == want_v1 || r.stdout == want_v2,
            "a report mixed two states:\n{}",
            r.stdout
        );
        reports += 1;
    }
    writer.join().unwrap();
    assert!(reports > 0);
}

#[test]
fn a_store_written_before_the_hash_scheme_was_fixed_is_migrated_once_and_closes_keep_verifying() {
    // A store written before the hash scheme was fixed: October imported, then closed
    // (the close not yet sealed with its file's SHA-256).
    migrated_once_and_closes_keep_verifying(
        "legacy-store",
        "migrated to content hash scheme sha256-canonical-v2: 1 file(s), 5 action(s) rehashed; 1 closed period(s) verified and sealed",
    );
}

#[test]
fn a_store_of_hash_scheme_v1_is_migrated_to_v2_once_and_closes_keep_verifying() {
    // A store written by the release before scheme v2 (field names in every hashed
    // encoding): October imported, then closed (sealed at its close).
    migrated_once_and_closes_keep_verifying(
        "v1-store",
        "migrated to content hash scheme sha256-canonical-v2: 1 file(s), 5 action(s) rehashed; 0 closed period(s) verified and sealed",
    );
}

/// Imports October again into a copy of the store fixture `store`: the first write
/// migrates (saying `migrated`), finds nothing changed, and leaves the closed period
/// verifying and reading as before; a second write migrates nothing.
fn migrated_once_and_closes_keep_verifying(store: &str, migrated: &str) {
    let env = Env::new();
    copy_dir(&data(store), &env.store());
    let st = env.run(["status", "--verify"]).ok();
    assert!(
        st.stdout.contains("hashes     of an earlier scheme"),
        "{}",
        st.stdout
    );
    // The same data imported again: the first write migrates, then finds nothing
    // changed, and the closed period reads the same.
    let st = import_migrates_and_changes_nothing(&env, &data("twenty-minutes.ndjson"), migrated, 5);
    assert!(st.contains("all 1 frozen copies of closes match"), "{st}");
    // Nothing counts as changed since the close.
    let adj = env
        .run(["report", "adjustments", "--period", "2026-10"])
        .ok()
        .stdout;
    assert_eq!(adj.lines().count(), 1, "header only: {adj}");
    // A second write migrates nothing.
    let r = env.import(&[&data("twenty-minutes.ndjson")]).ok();
    assert!(!r.stderr.contains("migrated"), "{}", r.stderr);
}

/// Imports `input` into `env`'s store, whose hashes are of an earlier scheme: the import
/// migrates (its messages contain `migrated`) and finds all `actions` actions unchanged;
/// October's contracts report reads as before; `status --verify` no longer speaks of an
/// earlier scheme. Returns that status output.
fn import_migrates_and_changes_nothing(
    env: &Env,
    input: &Path,
    migrated: &str,
    actions: u64,
) -> String {
    let october = || {
        env.run(["report", "contracts", "--period", "2026-10"])
            .ok()
            .stdout
    };
    let before = october();
    let r = env.import(&[input]).ok();
    assert!(r.stderr.contains(migrated), "{}", r.stderr);
    let unchanged = format!("0 new, 0 updated, {actions} unchanged");
    assert!(r.stderr.contains(&unchanged), "{}", r.stderr);
    assert_eq!(october(), before);
    let st = env.run(["status", "--verify"]).ok();
    assert!(!st.stdout.contains("earlier scheme"), "{}", st.stdout);
    st.stdout
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

#[test]
fn copies_of_one_action_in_different_months_are_merged_in_input_order() {
    let env = Env::new();
    // No last_updated: the later copy in the input wins, though it is in an earlier month.
    let (oct, nov) = import_lines_then_contracts(
        &env,
        &[
            r#"{"id":1,"ticket_id":5,"datetime":"2026-11-05T10:00:00Z","action_contract_id":3,"actionchargeamount":10}"#,
            r#"{"id":1,"ticket_id":5,"datetime":"2026-10-05T10:00:00Z","action_contract_id":3,"actionchargeamount":20}"#,
        ],
    );
    assert_eq!(cell(&oct, row(&oct, "3"), "chargeable_amount"), "20.00");
    assert_eq!(nov.len(), 1, "the earlier copy is gone: {nov:?}");
}

/// Imports `lines` as one NDJSON file (the store must then hold one action); the
/// contracts reports of October and November 2026.
fn import_lines_then_contracts(env: &Env, lines: &[&str]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let p = env.write("moved.ndjson", &lines.join("\n"));
    let r = env.import(&[&p]).ok();
    assert!(
        r.stderr.contains("store now holds 1 actions"),
        "{}",
        r.stderr
    );
    (
        env.report_csv("contracts", &["--period", "2026-10"]),
        env.report_csv("contracts", &["--period", "2026-11"]),
    )
}

#[test]
fn copies_in_two_months_are_weighed_in_input_order_when_one_lacks_last_updated() {
    // In input order: A (October, newer last_updated), B (November, none), C (October,
    // older last_updated). The rule taken copy by copy in input order: B replaces A (one
    // lacks last_updated: the later wins), C replaces B (likewise), so C stays. Taken
    // month by month instead (A, C, then B), A would beat C and B would stay.
    let env = Env::new();
    let (oct, nov) = import_lines_then_contracts(
        &env,
        &[
            r#"{"id":1,"ticket_id":5,"datetime":"2026-10-05T10:00:00Z","last_updated":"2026-10-09T00:00:00Z","action_contract_id":3,"actionchargeamount":10}"#,
            r#"{"id":1,"ticket_id":5,"datetime":"2026-11-05T10:00:00Z","action_contract_id":4,"actionchargeamount":20}"#,
            r#"{"id":1,"ticket_id":5,"datetime":"2026-10-06T10:00:00Z","last_updated":"2026-10-07T00:00:00Z","action_contract_id":3,"actionchargeamount":30}"#,
        ],
    );
    assert_eq!(cell(&oct, row(&oct, "3"), "chargeable_amount"), "30.00");
    assert_eq!(nov.len(), 1, "B lost: {nov:?}");
}

#[test]
fn a_stored_action_edited_into_another_month_leaves_its_old_month_in_a_later_import() {
    // The old copy lives in a month the second import does not otherwise touch: the
    // commit must still find it there and remove it.
    let env = Env::new();
    let first = env.write(
        "first.ndjson",
        concat!(
            r#"{"id":1,"ticket_id":5,"datetime":"2026-03-05T10:00:00Z","last_updated":"2026-03-05T10:00:00Z","action_contract_id":3,"actionchargeamount":10}"#,
            "\n",
            r#"{"id":2,"ticket_id":5,"datetime":"2026-03-06T10:00:00Z","action_contract_id":3,"actionchargeamount":1}"#,
            "\n",
            r#"{"id":1,"ticket_id":6,"datetime":"2026-07-06T10:00:00Z","action_contract_id":3,"actionchargeamount":2}"#,
            "\n"
        ),
    );
    env.import(&[&first]).ok();
    let moved = env.write(
        "moved.ndjson",
        r#"{"id":1,"ticket_id":5,"datetime":"2026-10-05T10:00:00Z","last_updated":"2026-10-06T00:00:00Z","action_contract_id":3,"actionchargeamount":20}"#,
    );
    let r = env.import(&[&moved]).ok();
    assert!(r.stderr.contains("0 new, 1 updated"), "{}", r.stderr);
    assert!(
        r.stderr.contains("store now holds 3 actions"),
        "{}",
        r.stderr
    );
    let mar = env.report_csv("contracts", &["--period", "2026-03"]);
    assert_eq!(cell(&mar, row(&mar, "3"), "chargeable_amount"), "1.00");
    let oct = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(cell(&oct, row(&oct, "3"), "chargeable_amount"), "20.00");
    let jul = env.report_csv("contracts", &["--period", "2026-07"]);
    assert_eq!(cell(&jul, row(&jul, "3"), "chargeable_amount"), "2.00");
    // A refused copy of the July action (a month this input does not touch) is named
    // as having a stored copy that stays.
    let bad = env.write(
        "bad.ndjson",
        r#"{"id":1,"ticket_id":6,"datetime":"2026-07-06T10:00:00Z","timetaken":"abc"}"#,
    );
    let r = env.import(&[&bad]).expect_code(3);
    assert!(
        r.stderr.contains(
            "1 refused record(s) have a stored copy, which stays in the store and the reports: (ticket_id, id) (6, 1)"
        ),
        "{}",
        r.stderr
    );
}

/// A store of `actions` generated actions (`seed`), all in October 2026.
fn october_store(actions: &str, seed: &str) -> Env {
    let env = october_pages(actions, seed);
    env.import(&[&env.path("gen")]).ok();
    env
}

/// `gen/2026-10/page-NNNNNN.json`: `actions` generated actions (`seed`), all in October
/// 2026, 100 to a page, in date order.
fn october_pages(actions: &str, seed: &str) -> Env {
    let env = Env::new();
    env.run([
        "generate",
        "--actions",
        actions,
        "--seed",
        seed,
        "--from",
        "2026-10",
        "--to",
        "2026-10",
        "--out",
        "gen",
    ])
    .ok();
    env
}

/// Rows of each file of `month` in the store's manifest.
fn month_files(env: &Env, store: &std::path::Path, month: u64) -> Vec<u64> {
    let m = manifest(env, store);
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["month"].as_u64() == Some(month))
        .map(|f| f["rows"].as_u64().unwrap())
        .collect()
}

#[test]
fn an_edit_in_a_large_month_rewrites_the_files_it_touches_and_leaves_one_partial_file() {
    // 140,000 actions in October: files of 65,536, 65,536 and 8,928 rows.
    let env = october_store("140000", "3");
    let mut before = month_files(&env, &env.store(), 10);
    before.sort_unstable();
    assert_eq!(before, vec![8_928, 65_536, 65_536]);
    // One action edited (newer last_updated, another note).
    let page = env.path("gen/2026-10/page-000001.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&page).unwrap()).unwrap();
    doc["actions"][0]["note"] = "edited".into();
    doc["actions"][0]["last_updated"] = "2027-01-01T00:00:00Z".into();
    let edit = env.write("edit.json", &doc.to_string());
    let r = env.import(&[&edit]).ok();
    assert!(r.stderr.contains("1 updated"), "{}", r.stderr);
    assert!(
        r.stderr.contains("(1 files written, 2 kept")
            || r.stderr.contains("(2 files written, 1 kept"),
        "only the file holding the old copy and the partial file are rewritten: {}",
        r.stderr
    );
    let after = month_files(&env, &env.store(), 10);
    assert_eq!(after.iter().sum::<u64>(), 140_000);
    assert!(after.iter().all(|&n| n <= 65_536), "{after:?}");
    assert_eq!(
        after.iter().filter(|&&n| n < 65_536).count(),
        1,
        "{after:?}"
    );
    // New actions: the full files stay, the partial one takes them.
    let new = env.write(
        "new.ndjson",
        r#"{"id":1,"ticket_id":99999999,"datetime":"2026-10-20T10:00:00Z","action_contract_id":3,"actionchargeamount":10}"#,
    );
    let r = env.import(&[&new]).ok();
    assert!(
        r.stderr.contains("(1 files written, 2 kept"),
        "{}",
        r.stderr
    );
    // The same figures as one import of everything into a fresh store.
    let fresh = env.path("fresh");
    for p in [env.path("gen"), edit, new] {
        env.run_with_env(
            &["import", &p.display().to_string()],
            &[("HALO_BILLING_STORE", &fresh.display().to_string())],
        )
        .ok();
    }
    assert!(fresh.join("manifest.json").exists());
    let args = [
        "report",
        "contracts",
        "--period",
        "2026-10",
        "--format",
        "csv",
    ];
    let ours = env.run(args).ok().stdout;
    let theirs = env
        .run_with_env(
            &args,
            &[("HALO_BILLING_STORE", &fresh.display().to_string())],
        )
        .ok()
        .stdout;
    assert_eq!(ours, theirs);
}

#[test]
fn copies_of_one_action_in_a_month_of_finished_files_are_merged_in_input_order() {
    // 140,000 October actions: input rows 65,536..131,071 are staged as one finished
    // file, its rows clustered by contract. An action of page 690 (about row 69,000) is
    // copied with another amount and a contract that sorts first, `last_updated` kept, so
    // the later copy in the input wins: given after page 700 (same finished file, where
    // the copy's row comes first), it wins; given after page 600 (the first finished
    // file, earlier in the input), the original wins.
    let env = october_pages("140000", "3");
    let page = env.path("gen/2026-10/page-000690.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&page).unwrap()).unwrap();
    let mut copy = doc["actions"][5].clone();
    let original_contract = copy["action_contract_id"].to_string();
    copy["action_contract_id"] = 1.into();
    copy["action_contract_ref"] = "C-1".into();
    copy["actionchargeamount"] = serde_json::json!(12345.67);
    let edit = serde_json::json!({ "actions": [copy] }).to_string();
    for (after_page, copy_wins) in [("000700", true), ("000600", false)] {
        let name = format!("gen/2026-10/page-{after_page}b.json");
        std::fs::write(env.path(&name), &edit).unwrap();
        let store = env.path(&format!("store-{after_page}"));
        let r = import_into(&env, &store).ok();
        std::fs::remove_file(env.path(&name)).unwrap();
        assert!(r.stderr.contains("140000 new"), "{}", r.stderr);
        assert!(
            r.stderr.contains("store now holds 140000 actions"),
            "the losing copy is not kept: {}",
            r.stderr
        );
        let out = env.report_csv(
            "contracts",
            &["--store", store.to_str().unwrap(), "--period", "2026-10"],
        );
        let has_copy = out.iter().any(|r| r[0] == "1");
        assert_eq!(has_copy, copy_wins, "copy after page {after_page}: {out:?}");
        if copy_wins {
            assert_eq!(cell(&out, row(&out, "1"), "chargeable_amount"), "12345.67");
            assert_eq!(cell(&out, row(&out, "1"), "actions"), "1");
        }
        assert!(
            out.iter().any(|r| r[0] == original_contract),
            "{original_contract}: {out:?}"
        );
    }
}

#[test]
fn two_imports_within_a_second_write_two_rejects_files() {
    let env = Env::new();
    for _ in 0..2 {
        env.import(&[&data("bad-records.json")]).expect_code(3);
    }
    let n = std::fs::read_dir(env.store().join("rejects"))
        .unwrap()
        .count();
    assert_eq!(n, 2, "each import keeps its own rejects file");
}

#[test]
fn nonsense_durations_and_years_are_refused_not_panics() {
    let env = Env::new();
    let r = env
        .run([
            "sync",
            "--period",
            "2026-10",
            "--window",
            "999999999999999d",
        ])
        .expect_code(2);
    assert!(
        r.stderr.contains("is too long: at most 100 years"),
        "{}",
        r.stderr
    );
    let r = env
        .run([
            "generate", "--from", "3000-01", "--to", "3000-02", "--out", "g",
        ])
        .expect_code(2);
    assert!(
        r.stderr.contains("outside the years 1970 to 2199"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn partition_files_are_clustered_by_contract_in_row_groups_near_8192_rows() {
    use polars::prelude::*;
    // 30,000 actions in October: one file, which polars' writer cuts into 30,000 / 8,192
    // = 3 row groups of equal size.
    let env = october_store("30000", "5");
    let m = manifest(&env, &env.store());
    let files: Vec<_> = m["files"].as_array().unwrap().iter().collect();
    assert_eq!(files.len(), 1, "{m}");
    let path = env.store().join(files[0]["path"].as_str().unwrap());
    let mut reader = ParquetReader::new(std::fs::File::open(&path).unwrap());
    let groups: Vec<usize> = reader
        .get_metadata()
        .unwrap()
        .row_groups
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(groups, vec![10_000, 10_000, 10_000]);
    let df = reader.finish().unwrap();
    let ids: Vec<Option<i64>> = df
        .column("action_contract_id")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert!(
        distinct.len() > 10,
        "the generator spreads work over contracts: {distinct:?}"
    );
    assert!(
        ids.windows(2).all(|w| w[0] <= w[1]),
        "rows are ordered by contract (no contract first)"
    );
}

#[test]
fn a_hash_migration_rewrites_files_of_several_row_groups_and_the_store_reads_the_same() {
    // 20,000 actions in October: one file of two row groups (10,000 rows each), which
    // a reader gets back in two pieces per column.
    let env = october_store("20000", "8");
    // The manifest says the hashes are of an earlier scheme: the next writer rehashes
    // them all.
    let scheme = halo_billing::model::canon::HASH_SCHEME;
    let path = env.store().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(scheme), "{text}");
    std::fs::write(&path, text.replace(scheme, "an-earlier-scheme")).unwrap();
    let migrated =
        format!("migrated to content hash scheme {scheme}: 1 file(s), 20000 action(s) rehashed");
    import_migrates_and_changes_nothing(&env, &env.path("gen"), &migrated, 20_000);
}

#[test]
fn status_files_lists_the_committed_state_only_and_verify_names_a_crashed_writers_file() {
    let env = Env::new();
    env.generated("2000", "71");
    let listed = env.run(["status", "--files"]).ok().stdout;
    let named = manifest_paths(&env.store(), &["files"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), named.len(), "{listed}");
    for (l, n) in lines.iter().zip(&named) {
        assert!(
            l.ends_with(n.as_str()) && std::path::Path::new(l).is_absolute(),
            "{l} {n}"
        );
    }
    // A writer killed before its commit leaves a file of a later generation: not listed,
    // named by --verify (an outside glob would count it), removed by the next writer.
    let first = std::path::PathBuf::from(lines[0]);
    let left = first.with_file_name("part-g999999-0000.parquet");
    std::fs::copy(&first, &left).unwrap();
    let again = env.run(["status", "--files"]).ok().stdout;
    assert_eq!(again, listed, "the committed state only");
    let v = env.run(["status", "--verify"]).expect_code(1);
    assert!(
        v.stderr
            .contains("part-g999999-0000.parquet: left by a writer that never committed"),
        "{}",
        v.stderr
    );
    let view = env.run(["status", "--view", "duckdb"]).ok().stdout;
    assert!(view.starts_with("CREATE OR REPLACE VIEW actions AS SELECT * FROM read_parquet(["));
    assert!(!view.contains("g999999"), "{view}");
    let late = env.write(
        "late.ndjson",
        r#"{"id":1,"ticket_id":1,"datetime":"2026-10-05T10:00:00Z","timetaken":1.0}"#,
    );
    env.import(&[&late]).ok();
    assert!(!left.exists(), "the next writer removes it");
}

#[test]
fn status_schema_lists_every_stored_column_with_its_unit_and_the_records_tables() {
    let env = Env::new();
    env.generated("500", "72");
    let schema = env.run(["status", "--schema"]).ok().stdout;
    // Every column of a stored file, as stored, is in the table, with its unit where it
    // has one.
    use polars::prelude::{ParquetReader, SerReader};
    let file = env.run(["status", "--files"]).ok().stdout;
    let first = file.lines().next().unwrap();
    let stored = ParquetReader::new(std::fs::File::open(first).unwrap())
        .schema()
        .unwrap();
    assert!(stored.len() > 60, "{stored:?}");
    for c in stored.iter_names() {
        assert!(
            schema.contains(&format!("| `{c}` |")),
            "{c} missing: {first}"
        );
    }
    assert!(
        schema
            .contains("| `datetime` | TIMESTAMP(MICROS, isAdjustedToUTC=true) | an instant in UTC")
    );
    assert!(schema.contains(
        "| `datetime_sub_us` | INT16 | nanoseconds past `datetime`'s microsecond, 0 to 999"
    ));
    assert!(schema.contains("| `actionchargeamount_cents` | INT64 | cents: divide by 100"));
    assert!(schema.contains("| `action_contract_id` | INT64 | id; null when Halo sent -1, 0"));
    assert!(schema.contains("| `invoice_lines` | ihid, id |"));
    assert!(schema.contains("`net_amount_cents`"));
}

/// The column `c` of every row of the store files `files`, as stored (no conversion).
fn raw_column(files: &[PathBuf], c: &str) -> Vec<polars::prelude::Column> {
    use polars::prelude::*;
    files
        .iter()
        .map(|p| {
            let df = ParquetReader::new(std::fs::File::open(p).unwrap())
                .with_columns(Some(vec![c.to_string()]))
                .finish()
                .unwrap();
            df.column(c).unwrap().clone()
        })
        .collect()
}

/// The paths (store-relative) the manifest of `store` names under `keys` (`files`,
/// `tombstones`, `records`).
fn manifest_paths(store: &Path, keys: &[&str]) -> Vec<String> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("manifest.json")).unwrap())
            .unwrap();
    keys.iter()
        .flat_map(|k| m[*k].as_array().cloned().unwrap_or_default())
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

/// The store files the manifest of `store` names (actions, tombstones, records).
fn listed_files(store: &Path) -> Vec<PathBuf> {
    manifest_paths(store, &["files", "tombstones", "records"])
        .iter()
        .map(|p| store.join(p))
        .collect()
}

#[test]
fn a_store_of_schema_version_2_is_migrated_to_utc_microseconds_losing_no_nanosecond_and_keeping_hashes_and_closes()
 {
    use polars::prelude::*;
    // Written by the release before schema version 3 (commit ffca17d): September and
    // October synced from the simulator with Halo's records (date-times of up to 7
    // fractional digits), October closed.
    let env = Env::new();
    copy_dir(&data("v2-store"), &env.store());
    let store = env.store();
    let actions_files = |s: &Path| -> Vec<PathBuf> {
        listed_files(s)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("/actions/"))
            .collect()
    };
    let hashes = |files: &[PathBuf]| -> Vec<Option<i64>> {
        raw_column(files, "content_hash")
            .iter()
            .flat_map(|c| c.i64().unwrap().iter().collect::<Vec<_>>())
            .collect()
    };
    let old_files = actions_files(&store);
    let old_hashes = hashes(&old_files);
    for c in raw_column(&old_files, "datetime") {
        assert_eq!(c.dtype(), &DataType::Datetime(TimeUnit::Nanoseconds, None));
    }
    let frozen = std::fs::read(store.join("closed/2026-10@UTC-c0001.parquet")).unwrap();
    // What the store reads as before the migration (a reader never migrates).
    let reads = || {
        [
            vec!["report", "actions", "--period", "2026-09"],
            vec!["report", "actions", "--period", "2026-10"],
            vec!["report", "contracts", "--period", "2026-09"],
            vec!["report", "audit", "--period", "2026-10"],
            vec!["report", "prepay", "--period", "2026-10"],
            vec!["report", "adjustments", "--period", "2026-10"],
            vec![
                "query",
                "SELECT MIN(datetime) AS a, MAX(last_updated) AS b FROM actions",
                "--period",
                "2026-09",
            ],
        ]
        .iter()
        .map(|a| env.run(a).ok().stdout)
        .collect::<Vec<_>>()
    };
    let st = env.run(["status"]).ok().stdout;
    assert!(
        st.contains("dates      stored in nanoseconds (schema version 2), which Spark cannot read"),
        "{st}"
    );
    let before = reads();
    assert!(
        before[0].contains(".729455100Z"),
        "the fixture carries Halo's 7th fractional digit: {}",
        &before[0][..before[0].len().min(600)]
    );
    assert_eq!(actions_files(&store), old_files, "reading migrated nothing");
    // The next writer migrates, once.
    let empty = env.write("empty.json", r#"{"record_count":0,"actions":[]}"#);
    let r = env.import(&[&empty]).ok();
    assert!(
        r.stderr
            .contains("upgraded once to schema version 3: 6 file(s)"),
        "{}",
        r.stderr
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["schema_version"], 3);
    // Every stored date-time is now UTC microseconds, the nanoseconds past them beside.
    let new_files = listed_files(&store);
    assert_eq!(new_files.len(), 6, "2 months, 4 record tables");
    for p in &new_files {
        let df = ParquetReader::new(std::fs::File::open(p).unwrap())
            .finish()
            .unwrap();
        let dates: Vec<_> = df
            .columns()
            .iter()
            .filter(|c| matches!(c.dtype(), DataType::Datetime(..)))
            .collect();
        assert!(!dates.is_empty(), "{}", p.display());
        for c in dates {
            assert_eq!(
                c.dtype(),
                &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
                "{} {}",
                p.display(),
                c.name()
            );
            let sub = df.column(&format!("{}_sub_us", c.name())).unwrap();
            assert_eq!(sub.dtype(), &DataType::Int16);
        }
    }
    let subs: Vec<i16> = raw_column(&actions_files(&store), "datetime_sub_us")
        .iter()
        .flat_map(|c| c.i16().unwrap().into_no_null_iter().collect::<Vec<_>>())
        .collect();
    assert!(subs.contains(&100) && subs.iter().all(|s| (0..1000).contains(s) && s % 100 == 0));
    // Content hashes, the close's frozen copy and every report unchanged.
    assert_eq!(hashes(&actions_files(&store)), old_hashes);
    assert_eq!(
        std::fs::read(store.join("closed/2026-10@UTC-c0001.parquet")).unwrap(),
        frozen
    );
    assert_eq!(reads(), before);
    let st = env.run(["status", "--verify"]).ok().stdout;
    assert!(st.contains("all 1 frozen copies of closes match"), "{st}");
    assert!(!st.contains("dates      stored in nanoseconds"), "{st}");
    // A second write migrates nothing.
    let r = env.import(&[&empty]).ok();
    assert!(!r.stderr.contains("upgraded"), "{}", r.stderr);
}

#[test]
fn files_a_commit_replaced_stay_readable_for_the_grace_period_then_the_next_writer_removes_them() {
    let env = Env::new();
    let v1 = env.write("v1.ndjson", &october_lines(300, "10.00"));
    let v2 = env.write("v2.ndjson", &october_lines(300, "12.50"));
    let v3 = env.write("v3.ndjson", &october_lines(300, "15.00"));
    env.import(&[&v1]).ok();
    // An outside engine lists the committed files; then a commit replaces them.
    let listed = env.run(["status", "--files"]).ok().stdout;
    let before: Vec<PathBuf> = listed.lines().map(PathBuf::from).collect();
    env.import(&[&v2]).ok();
    // Still there, read whole (the listing is one committed state), and not counted as
    // stray or leftover; the committed files are the new ones.
    for p in &before {
        use polars::prelude::{ParquetReader, SerReader};
        let df = ParquetReader::new(std::fs::File::open(p).unwrap())
            .finish()
            .unwrap();
        assert_eq!(df.height(), 300);
    }
    let now = env.run(["status", "--files"]).ok().stdout;
    assert!(
        before.iter().all(|p| !now.contains(p.to_str().unwrap())),
        "{now}"
    );
    env.run(["status", "--verify"]).ok();
    let st = env.run(["status"]).ok().stdout;
    assert!(
        st.contains("replaced   1 file(s) earlier commits replaced, kept for outside readers"),
        "{st}"
    );
    // A writer within the grace period keeps them; the first after it removes them.
    env.import(&[&v3]).ok();
    assert!(before.iter().all(|p| p.exists()));
    let v1_arg = v1.display().to_string();
    env.run_with_env(&["import", &v1_arg], &[("HALO_BILLING_KEEP_REPLACED", "0")])
        .ok();
    assert!(before.iter().all(|p| !p.exists()));
    // A value that does not read is an error naming it, and nothing is written.
    let r = env
        .run_with_env(
            &["import", &v1_arg],
            &[("HALO_BILLING_KEEP_REPLACED", "an hour")],
        )
        .expect_code(1);
    assert!(
        r.stderr
            .contains("HALO_BILLING_KEEP_REPLACED=`an hour` is not a whole number of minutes"),
        "{}",
        r.stderr
    );
}
