//! A store that survives damage and mistakes: no figure from a damaged file, nothing
//! deleted that the store does not own, and a way back when the manifest is gone.

use crate::common;
use common::*;
use std::path::{Path, PathBuf};

/// The store's data files, sorted.
fn data_files(store: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![store.join("actions")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The October file of the store (the generated data has one per month).
fn october(env: &Env) -> PathBuf {
    data_files(&env.store())
        .into_iter()
        .find(|p| p.to_string_lossy().contains("month=10"))
        .unwrap()
}

/// Copies the folder `from` to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The reports a damaged file could change, with their output (and exit code).
const REPORTS: [&[&str]; 5] = [
    &["report", "contracts", "--period", "2026-10"],
    &["report", "agents", "--period", "2026-10"],
    &[
        "report",
        "unbilled",
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-20",
    ],
    &[
        "report",
        "actions",
        "--period",
        "2026-10",
        "--contract",
        "101",
    ],
    &["export", "--init-mapping", "-", "--period", "2026-10"],
];

fn run_all(env: &Env) -> Vec<(i32, String, String)> {
    REPORTS
        .iter()
        .map(|a| {
            let mut args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            if args[0] == "export" {
                let p = env.path("m.toml");
                let _ = std::fs::remove_file(&p);
                args[2] = p.display().to_string();
            }
            let r = env.run(&args);
            let out = if args[0] == "export" {
                std::fs::read_to_string(env.path("m.toml")).unwrap_or_default()
            } else {
                r.stdout
            };
            (r.code, out, r.stderr)
        })
        .collect()
}

/// Every report either gives exactly the undamaged figures or fails naming `file` as
/// changed or damaged; never another figure, never a panic.
fn no_wrong_figure(env: &Env, file: &Path, want: &[(i32, String, String)], what: &str) -> usize {
    no_wrong_figure_of(env, &[file], want, what)
}

/// [`no_wrong_figure`] where any of `files` may be the one named.
fn no_wrong_figure_of(
    env: &Env,
    files: &[&Path],
    want: &[(i32, String, String)],
    what: &str,
) -> usize {
    let names: Vec<&str> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    let mut refused = 0;
    for (got, (args, want)) in run_all(env).iter().zip(REPORTS.iter().zip(want)) {
        if got.0 == 0 {
            assert_eq!(got.1, want.1, "{what}: {args:?} gave other figures");
        } else {
            assert_ne!(got.0, 101, "{what}: {args:?} panicked: {}", got.2);
            assert!(
                names.iter().any(|n| got.2.contains(n))
                    && (got.2.contains("changed or damaged") || got.2.contains("is not")),
                "{what}: {args:?}: {}",
                got.2
            );
            refused += 1;
        }
    }
    refused
}

#[test]
fn a_flipped_bit_anywhere_in_a_store_file_never_gives_a_figure_and_close_freezes_nothing() {
    let env = Env::new();
    env.generated("3000", "91");
    let want = run_all(&env);
    assert!(want.iter().all(|w| w.0 == 0), "{want:?}");
    let pristine = env.path("pristine");
    copy_dir(&env.store(), &pristine);
    let file = october(&env);
    let len = std::fs::metadata(&file).unwrap().len();
    let mut refused = 0;
    // Offsets spread over the whole file: the leading magic, row groups, the footer.
    for k in 0..24u64 {
        let offset = (k * 7919 * 13) % len;
        std::fs::remove_dir_all(env.store()).unwrap();
        copy_dir(&pristine, &env.store());
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[offset as usize] ^= 1 << (k % 8);
        std::fs::write(&file, &bytes).unwrap();
        refused += no_wrong_figure(&env, &file, &want, &format!("bit at {offset}"));
        // A close freezes only verified files.
        let c = env.run(["close", "--period", "2026-10"]);
        assert_ne!(c.code, 0, "bit at {offset}: close froze a damaged file");
        assert!(!env.store().join("closed.json").exists());
    }
    assert!(refused > 24, "the damage was seen: {refused}");
}

#[test]
fn another_months_file_copied_over_a_months_file_is_refused() {
    let env = Env::new();
    env.generated("3000", "92");
    let want = run_all(&env);
    let files = data_files(&env.store());
    let sept = files
        .iter()
        .find(|p| p.to_string_lossy().contains("month=9"))
        .unwrap();
    let file = october(&env);
    std::fs::copy(sept, &file).unwrap();
    assert_eq!(
        no_wrong_figure(&env, &file, &want, "September over October"),
        5
    );
    let v = env.run(["status", "--verify"]).expect_code(1);
    assert!(
        v.stderr.contains("differs from the manifest") || v.stderr.contains("bytes"),
        "{}",
        v.stderr
    );
}

#[test]
fn a_removed_manifest_is_refused_by_every_command_and_rebuilt_from_the_files() {
    let env = Env::new();
    env.generated("3000", "93");
    let want = run_all(&env);
    let files = data_files(&env.store());
    std::fs::remove_file(env.store().join("manifest.json")).unwrap();
    let page = env.write(
        "one.ndjson",
        "{\"id\":1,\"ticket_id\":1,\"datetime\":\"2026-10-05T10:00:00Z\",\"timetaken\":1}\n",
    );
    for args in [
        vec!["status".to_string()],
        vec![
            "report".into(),
            "contracts".into(),
            "--period".into(),
            "2026-10".into(),
        ],
        vec!["import".into(), page.display().to_string()],
        vec!["close".into(), "--period".into(), "2026-10".into()],
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "holds {} data file(s) but no manifest.json",
                files.len()
            )) && r.stderr.contains("halo-billing status --rebuild-manifest"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(data_files(&env.store()), files, "nothing deleted");
    let r = env.run(["status", "--rebuild-manifest"]).ok();
    assert!(
        r.stderr
            .contains(&format!("3000 action(s) in {} file(s) kept", files.len())),
        "{}",
        r.stderr
    );
    assert_eq!(run_all(&env), want, "the same figures as before");
    env.run(["status", "--verify"]).ok();
}

#[test]
fn rebuild_sets_a_damaged_file_aside_and_its_month_is_no_longer_covered() {
    let env = Env::new();
    env.generated("3000", "94");
    let file = october(&env);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&file, &bytes).unwrap();
    let r = env.run(["status", "--rebuild-manifest"]).ok();
    let rel = file.strip_prefix(env.store()).unwrap();
    assert!(
        r.stderr.contains("set aside in") && r.stderr.contains(rel.to_str().unwrap()),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("no longer counted as covered: 2026-10"),
        "{}",
        r.stderr
    );
    assert!(
        env.store().join("recovered").join(rel).is_file(),
        "kept, not deleted"
    );
    assert!(!file.exists());
    // October is a gap now; September is as it was.
    env.run(["report", "contracts", "--period", "2026-10", "--strict"])
        .expect_code(5);
    env.run(["report", "contracts", "--period", "2026-09", "--strict"])
        .ok();
    env.run(["status", "--verify"]).ok();
}

#[test]
fn a_manifest_entry_outside_the_store_is_refused_and_the_outside_file_is_untouched() {
    let env = Env::new();
    env.generated("2000", "95");
    let outside = env.write("outside.parquet", "not the store's");
    let mpath = env.store().join("manifest.json");
    let text = std::fs::read_to_string(&mpath).unwrap();
    let first = data_files(&env.store())[0].clone();
    let rel = first
        .strip_prefix(env.store())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    std::fs::write(&mpath, text.replace(&rel, "../outside.parquet")).unwrap();
    let page = env.write(
        "one.ndjson",
        "{\"id\":1,\"ticket_id\":1,\"datetime\":\"2026-10-05T10:00:00Z\",\"timetaken\":1}\n",
    );
    for args in [
        vec![
            "report".to_string(),
            "contracts".into(),
            "--period".into(),
            "2026-10".into(),
        ],
        vec!["import".into(), page.display().to_string()],
        vec!["status".into()],
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 1, "{args:?}");
        assert!(
            r.stderr.contains("names `../outside.parquet`"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "not the store's"
    );
    assert!(first.exists(), "the store's own file stays");
}

#[test]
fn a_removed_manifest_entry_is_caught_by_verify_and_by_coverage() {
    let env = Env::new();
    env.generated("3000", "96");
    let file = october(&env);
    let rel = file
        .strip_prefix(env.store())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let mpath = env.store().join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    m["files"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["path"] != rel.as_str());
    std::fs::write(&mpath, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let v = env.run(["status", "--verify"]).expect_code(1);
    assert!(
        v.stderr.contains(&rel) && v.stderr.contains("does not name"),
        "{}",
        v.stderr
    );
    let r = env
        .run(["report", "contracts", "--period", "2026-10", "--strict"])
        .expect_code(5);
    assert!(
        r.stderr.contains("the manifest does not name"),
        "{}",
        r.stderr
    );
    // A writer leaves it where it is: the store does not own it.
    let page = env.write(
        "one.ndjson",
        "{\"id\":1,\"ticket_id\":1,\"datetime\":\"2026-10-05T10:00:00Z\",\"timetaken\":1}\n",
    );
    env.import(&[&page]).ok();
    assert!(file.exists(), "never deleted");
}

#[test]
fn demo_never_empties_a_folder_it_did_not_make() {
    let env = Env::new();
    env.run([
        "generate",
        "--actions",
        "500",
        "--from",
        "2026-10",
        "--to",
        "2026-10",
        "--out",
        "gen",
    ])
    .ok();
    // A real store where the demo's store would go.
    env.run(["import", "--store", "mine/store", "gen"]).ok();
    let before = data_files(&env.path("mine/store"));
    let r = env
        .run(["demo", "--out", "mine", "--actions", "500"])
        .expect_code(2);
    assert!(
        r.stderr.contains("a folder the demo did not make"),
        "{}",
        r.stderr
    );
    assert_eq!(data_files(&env.path("mine/store")), before);
    // Its own folder it empties and fills again, run after run.
    env.run(["demo", "--out", "own", "--actions", "500"]).ok();
    env.run(["demo", "--out", "own", "--actions", "500"]).ok();
    assert!(env.path("own/.halo-billing-demo").is_file());
}

#[test]
fn a_store_damaged_at_random_never_gives_a_wrong_figure_nor_panics() {
    // Bit flips, truncations, garbage appended and files swapped, in any data file, at
    // deterministic "random" places: every report either gives the undamaged figures
    // or fails naming a damaged file.
    let env = Env::new();
    env.generated("4000", "97");
    let want = run_all(&env);
    let pristine = env.path("pristine");
    copy_dir(&env.store(), &pristine);
    let files = data_files(&env.store());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut refused = 0;
    for i in 0..40 {
        std::fs::remove_dir_all(env.store()).unwrap();
        copy_dir(&pristine, &env.store());
        let a = &files[(next() % files.len() as u64) as usize];
        let b = &files[(next() % files.len() as u64) as usize];
        let mut bytes = std::fs::read(a).unwrap();
        let what = match i % 4 {
            0 => {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] ^= 1 << (next() % 8);
                std::fs::write(a, &bytes).unwrap();
                format!("bit flipped at {at}")
            }
            1 => {
                let to = (next() % bytes.len() as u64) as usize;
                bytes.truncate(to);
                std::fs::write(a, &bytes).unwrap();
                format!("truncated to {to}")
            }
            2 => {
                bytes.extend_from_slice(b"PAR1 and more");
                std::fs::write(a, &bytes).unwrap();
                "garbage appended".to_string()
            }
            _ => {
                let other = std::fs::read(b).unwrap();
                std::fs::write(a, &other).unwrap();
                std::fs::write(b, &bytes).unwrap();
                "swapped".to_string()
            }
        };
        let what = format!("{what} in {}", a.display());
        refused += no_wrong_figure_of(&env, &[a.as_path(), b.as_path()], &want, &what);
    }
    assert!(refused > 40, "the damage was seen: {refused}");
}

#[test]
fn rebuild_sets_aside_a_file_of_a_commit_that_never_finished() {
    let env = Env::new();
    env.generated("3000", "98");
    let want = run_all(&env);
    // A crashed writer's file: a copy of October's under a later generation's name.
    let file = october(&env);
    let leftover = file.with_file_name("part-g000099-0000.parquet");
    std::fs::copy(&file, &leftover).unwrap();
    let r = env.run(["status", "--rebuild-manifest"]).ok();
    assert!(
        r.stderr
            .contains("part-g000099-0000.parquet: written by a commit that never finished"),
        "{}",
        r.stderr
    );
    assert!(!leftover.exists());
    assert_eq!(run_all(&env), want, "the committed state, not the leftover");
}
