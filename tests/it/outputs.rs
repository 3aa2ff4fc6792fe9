//! Output files written safely: never through a planted symlink, never a device replaced
//! by a file, never over an input or the store's own files.

use crate::common;
use common::*;
use std::os::unix::fs::{FileTypeExt, symlink};

/// The last process id the system gave out (`/proc/loadavg`'s last field).
fn last_pid() -> u32 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap();
    text.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn temporary_files_never_follow_a_symlink_planted_at_a_guessable_name() {
    let env = Env::new();
    env.generated("1000", "101");
    let m = filled_mapping(&env, "2026-10");
    let victim = env.write("victim.txt", "precious");
    let out = env.path("out");
    std::fs::create_dir_all(&out).unwrap();
    // Links at every name an earlier release would have used for the next few hundred
    // processes (`.NAME.tmp-PID`).
    let next = last_pid();
    for name in ["r.csv", "x.csv"] {
        for pid in next..next + 400 {
            symlink(&victim, out.join(format!(".{name}.tmp-{pid}"))).unwrap();
        }
    }
    env.run([
        "report",
        "contracts",
        "--period",
        "2026-10",
        "--out",
        "out/r.csv",
    ])
    .ok();
    env.run([
        "export",
        "xero",
        "--period",
        "2026-10",
        "--mapping",
        m.to_str().unwrap(),
        "--out",
        "out/x.csv",
    ])
    .expect_code(6);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        std::fs::read_to_string(out.join("r.csv"))
            .unwrap()
            .starts_with("contract_id,")
    );
    assert!(
        std::fs::read_to_string(out.join("x.csv"))
            .unwrap()
            .starts_with("*ContactName,")
    );
}

#[test]
fn a_fifo_or_a_link_to_standard_output_is_written_to_not_replaced() {
    let env = Env::new();
    env.generated("1000", "102");
    // --rejects into a FIFO: its reader gets the refused records, and it stays a FIFO.
    let fifo = env.path("rejects.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let bad = env.write("bad.ndjson", "{\"id\":1}\n");
    env.run([
        "import",
        "--allow-rejects",
        "--rejects",
        fifo.to_str().unwrap(),
        bad.to_str().unwrap(),
    ])
    .ok();
    let got = reader.join().unwrap();
    assert!(got.contains("ticket_id"), "{got}");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // --out through a link to this process's standard output: printed, link kept.
    let link = env.path("stdout-link");
    symlink("/proc/self/fd/1", &link).unwrap();
    let r = env
        .run([
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--out",
            link.to_str().unwrap(),
        ])
        .ok();
    assert!(r.stdout.starts_with("contract_id,"), "{}", r.stdout);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn an_output_inside_the_store_or_over_an_input_is_refused_before_anything_runs() {
    let env = Env::new();
    env.generated("1000", "103");
    let manifest = std::fs::read(env.store().join("manifest.json")).unwrap();
    for (args, says) in [
        (
            vec![
                "report",
                "contracts",
                "--period",
                "2026-10",
                "--out",
                "store/manifest.json",
            ],
            "--out `store/manifest.json` is inside the store",
        ),
        (
            vec![
                "query",
                "--period",
                "2026-10",
                "SELECT 1 AS x",
                "--out",
                "store/x.csv",
            ],
            "--out `store/x.csv` is inside the store",
        ),
    ] {
        let r = env.run(&args).expect_code(2);
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read(env.store().join("manifest.json")).unwrap(),
        manifest
    );
    // An import's rejects over its own input: refused, the input kept.
    let input = env.write(
        "input.ndjson",
        "{\"id\":1,\"ticket_id\":1,\"datetime\":\"2026-10-05T10:00:00Z\",\"timetaken\":\"x\"}\n",
    );
    let text = std::fs::read_to_string(&input).unwrap();
    let r = env
        .run(["import", "input.ndjson", "--rejects", "./input.ndjson"])
        .expect_code(2);
    assert!(
        r.stderr.contains("is an input of this import"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), text);
    let r = env
        .run(["import", "input.ndjson", "--rejects", "store/manifest.json"])
        .expect_code(2);
    assert!(r.stderr.contains("inside the store"), "{}", r.stderr);
    // The store's own rejects folder is where rejects belong.
    env.run([
        "import",
        "input.ndjson",
        "--rejects",
        "store/rejects/mine.ndjson",
    ])
    .expect_code(3);
    assert!(env.store().join("rejects/mine.ndjson").is_file());
}

#[test]
fn a_70000_character_key_or_reference_is_shortened_in_tables_never_a_panic() {
    let env = Env::new();
    let long = "N".repeat(70_000);
    let page = format!(
        "{{\"id\":1,\"ticket_id\":1,\"datetime\":\"2026-10-05T10:00:00Z\",\"timetaken\":1,\"actionchargehours\":1,\"actionchargeamount\":10,\"action_contract_id\":7,\"action_contract_ref\":\"{long}\",\"actioninvoicenumber\":\"{long}\",\"invoice_id\":3}}\n"
    );
    let p = env.write("long.ndjson", &page);
    env.import(&[&p]).ok();
    for args in [
        vec![
            "report", "invoices", "--period", "2026-10", "--format", "table",
        ],
        vec![
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "table",
        ],
        vec![
            "report", "invoices", "--period", "2026-10", "--format", "table", "--wide",
        ],
        vec![
            "report", "actions", "--period", "2026-10", "--format", "table",
        ],
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        if !args.contains(&"--wide") {
            assert!(
                r.stdout.lines().all(|l| l.chars().count() < 400),
                "{args:?}"
            );
            assert!(r.stdout.contains('…'), "{args:?}: shortened");
        }
    }
    // CSV keeps the value whole.
    let csv = env
        .run(["report", "invoices", "--period", "2026-10"])
        .ok()
        .stdout;
    assert!(csv.contains(&long));
}

#[test]
fn text_from_halo_never_controls_the_terminal_and_stays_exact_in_csv() {
    let env = Env::new();
    // ESC (colours), BEL, a right-to-left override, in a reference and a note.
    let page = "{\"id\":1,\"ticket_id\":1,\"datetime\":\"2026-10-05T10:00:00Z\",\"timetaken\":1,\"actionchargehours\":1,\"actionchargeamount\":10,\"action_contract_id\":7,\"action_contract_ref\":\"Acme \\u001b[31mred\\u0007\\u202eevil\",\"note\":\"hi\\u001b[2J\"}\n";
    let bad = "{\"id\":2,\"ticket_id\":1,\"datetime\":\"\\u001b[31mnot a date\"}\n";
    let p = env.write("ctl.ndjson", &format!("{page}{bad}"));
    let r = env.import(&[&p]).expect_code(3);
    assert!(
        !r.stderr.contains('\u{1b}'),
        "raw ESC in a refusal: {:?}",
        r.stderr
    );
    assert!(r.stderr.contains("\\u{1b}"), "{}", r.stderr);
    for args in [
        vec![
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "table",
            "--wide",
        ],
        vec![
            "report", "actions", "--period", "2026-10", "--format", "table",
        ],
        vec![
            "report",
            "contracts",
            "--period",
            "2026-10",
            "--format",
            "html",
        ],
    ] {
        let r = env.run(&args).ok();
        for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!r.stdout.contains(c), "{args:?}: raw {c:?}");
        }
        assert!(r.stdout.contains("\\u{1b}"), "{args:?}: {}", r.stdout);
    }
    let csv = env
        .run(["report", "contracts", "--period", "2026-10"])
        .ok()
        .stdout;
    assert!(
        csv.contains("Acme \u{1b}[31mred\u{7}\u{202e}evil"),
        "exact in CSV"
    );
    // The mapping template reads back as TOML.
    env.run(["export", "--init-mapping", "m.toml", "--period", "2026-10"])
        .ok();
    let r = env.run([
        "export",
        "xero",
        "--period",
        "2026-10",
        "--mapping",
        "m.toml",
        "--out",
        "x.csv",
        "--allow-gaps",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("customer is still FILL-IN"),
        "parsed: {}",
        r.stderr
    );
}
