//! `import`: bad input is refused record by record, loudly, and nothing valid is lost.

use crate::common;
use common::*;
use std::io::Write;

#[test]
fn bad_records_are_refused_with_location_and_reason_and_valid_ones_kept() {
    let env = Env::new();
    let r = env.import(&[&data("bad-records.json")]).expect_code(3);
    let file = data("bad-records.json").display().to_string();
    // Every refused record is named with file, line, place, key and reason.
    for expected in [
        format!(
            "{file}:3: actions[1] (ticket_id 500, id 2): field `timetaken`: expected a number, found the string \"abc\""
        ),
        format!("{file}:4: actions[2] (id 3): record has no `ticket_id`"),
        format!("{file}:5: actions[3] (ticket_id 500): record has no `id`"),
        format!(
            "{file}:6: actions[4] (ticket_id 500, id 5): field `actionchargeamount`: expected a number, found the string \"12.50\""
        ),
        format!(
            "{file}:7: actions[5] (ticket_id 500, id 6): field `actionchargeamount`: `NaN` is not a finite number"
        ),
        format!(
            "{file}:8: actions[6] (ticket_id 500, id 7): field `actionprepayamount`: `-40.25` is negative, which this field cannot be"
        ),
        format!(
            "{file}:9: actions[7] (ticket_id 500, id 8): field `timetaken`: `Infinity` is not a finite number"
        ),
        format!(
            "{file}:10: actions[8] (ticket_id 500, id 9): field `datetime`: `not a date` is not a date-time"
        ),
    ] {
        assert!(
            r.stderr.contains(&expected),
            "missing `{expected}` in\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("8 input record(s) refused"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));

    // The rejects file holds each refused record's original text.
    let rejects_dir = env.store().join("rejects");
    let files: Vec<_> = std::fs::read_dir(&rejects_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&files[0])
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["line"], 3);
    assert_eq!(lines[0]["id"], 2);
    assert!(
        lines[0]["text"]
            .as_str()
            .unwrap()
            .contains("\"timetaken\": \"abc\"")
    );
    assert!(lines[4]["text"].as_str().unwrap().contains("NaN"));

    // The two valid records were imported.
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    let c7 = row(&rows, "7");
    assert_eq!(cell(&rows, c7, "actions"), "2");
    assert_eq!(cell(&rows, c7, "chargeable_amount"), "180.00");
    assert_eq!(cell(&rows, c7, "time_taken_hours"), "1.5000");
}

#[test]
fn allow_rejects_exits_zero_but_still_reports() {
    let env = Env::new();
    let out = env.path("refused.ndjson");
    let r = env
        .run([
            "import",
            "--allow-rejects",
            "--rejects",
            out.to_str().unwrap(),
            data("bad-records.json").to_str().unwrap(),
        ])
        .ok();
    assert!(r.stderr.contains("refused"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(out).unwrap().lines().count(), 8);
}

#[test]
fn truncated_file_keeps_whole_records_and_reports_the_rest() {
    let env = Env::new();
    let r = env.import(&[&data("truncated.json")]).expect_code(3);
    assert!(r.stderr.contains("rest of file"), "{}", r.stderr);
    assert!(
        r.stderr.contains("not closed before the end of the file"),
        "{}",
        r.stderr
    );
    let rows = env.report_csv("invoices", &["--period", "2026-10"]);
    assert_eq!(cell(&rows, row(&rows, ""), "actions"), "1");
}

#[test]
fn gzip_folders_ndjson_and_bare_arrays_are_read_recursively() {
    let env = Env::new();
    let page = r#"{"record_count":1,"actions":[{"id":1,"ticket_id":1,"datetime":"2026-10-01T10:00:00Z","timetaken":1.0}]}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(page.as_bytes()).unwrap();
    let dir = env.path("in/nested/deeper");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p1.json.gz"), gz.finish().unwrap()).unwrap();
    env.write("in/p2.ndjson", "{\"id\":2,\"ticket_id\":1,\"datetime\":\"2026-10-02T10:00:00Z\",\"timetaken\":2.0}\n{\"id\":3,\"ticket_id\":1,\"datetime\":\"2026-10-02T10:00:00Z\",\"timetaken\":0.5}\n");
    env.write(
        "in/p3.json",
        r#"[{"id":4,"ticket_id":1,"datetime":"2026-10-03T10:00:00Z","timetaken":0.25}]"#,
    );
    env.write("in/notes.txt", "not an input file");
    env.import(&[&env.path("in")]).ok();
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    let none = row(&rows, "");
    assert_eq!(cell(&rows, none, "actions"), "4");
    assert_eq!(cell(&rows, none, "time_taken_hours"), "3.7500");
}

#[test]
fn duplicates_keep_the_later_last_updated_and_are_counted() {
    let env = Env::new();
    let older_later_in_file = r#"{"actions":[
        {"id":1,"ticket_id":9,"datetime":"2026-10-01T10:00:00Z","last_updated":"2026-10-05T00:00:00Z","actionchargeamount":200.0,"action_contract_id":3},
        {"id":1,"ticket_id":9,"datetime":"2026-10-01T10:00:00Z","last_updated":"2026-10-02T00:00:00Z","actionchargeamount":100.0,"action_contract_id":3},
        {"id":2,"ticket_id":9,"datetime":"2026-10-01T10:00:00Z","actionchargeamount":1.0,"action_contract_id":3},
        {"id":2,"ticket_id":9,"datetime":"2026-10-01T10:00:00Z","actionchargeamount":2.0,"action_contract_id":3}
    ]}"#;
    let p = env.write("dup.json", older_later_in_file);
    let r = env.import(&[&p]).ok();
    assert!(
        r.stderr.contains("2 duplicate copies merged"),
        "{}",
        r.stderr
    );
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    let c = row(&rows, "3");
    assert_eq!(cell(&rows, c, "actions"), "2");
    // 200.00 (newer last_updated beats later position) + 2.00 (no last_updated: later wins)
    assert_eq!(cell(&rows, c, "chargeable_amount"), "202.00");

    // Importing the same data again changes nothing.
    let r = env.import(&[&p]).ok();
    assert!(r.stderr.contains("0 new"), "{}", r.stderr);
    assert_eq!(env.report_csv("contracts", &["--period", "2026-10"]), rows);
}

#[test]
fn a_missing_path_is_a_clear_error() {
    let env = Env::new();
    let r = env.run(["import", "no-such-folder"]).expect_code(1);
    assert!(
        r.stderr.contains("cannot read `no-such-folder`"),
        "{}",
        r.stderr
    );
    assert!(!env.store().join("manifest.json").exists());
}

#[test]
fn a_store_of_another_schema_version_is_refused() {
    let env = Env::new();
    env.write("store/manifest.json", r#"{"format":"halo-billing-store","schema_version":99,"generation":1,"committed_at":null,"files":[]}"#);
    let r = env
        .run(["report", "contracts", "--period", "2026-10"])
        .expect_code(1);
    assert!(r.stderr.contains("store schema version 99"), "{}", r.stderr);
}

/// One NDJSON line per action, `n` of them, each worth 1.00 charged.
fn ndjson_lines(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            format!(
                r#"{{"id":{i},"ticket_id":42,"datetime":"2026-10-05T10:00:00Z","timetaken":0.25,"action_contract_id":7,"actionchargeamount":1.0,"note":"entry {i}"}}"#
            )
        })
        .collect()
}

#[test]
fn ndjson_damaged_lines_are_refused_alone_and_every_other_line_imported() {
    let env = Env::new();
    let mut lines = ndjson_lines(401);
    // Line 135 lost its closing brace, line 200 a quote.
    lines[134].pop();
    lines[199] = lines[199].replacen("\"entry", "entry", 1);
    let file = env.write("damaged.ndjson", &(lines.join("\n") + "\n"));
    let r = env.import(&[&file]).expect_code(3);
    assert!(
        r.stderr.contains("2 input record(s) refused"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("damaged.ndjson:135:"), "{}", r.stderr);
    assert!(r.stderr.contains("damaged.ndjson:200:"), "{}", r.stderr);
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    let c7 = row(&rows, "7");
    assert_eq!(cell(&rows, c7, "actions"), "399");
    assert_eq!(cell(&rows, c7, "chargeable_amount"), "399.00");
}

#[test]
fn a_damaged_record_in_a_page_is_refused_with_its_bytes_and_later_records_kept() {
    let env = Env::new();
    let mut recs = ndjson_lines(50);
    recs[9].pop(); // record 10 lost its closing brace
    recs[29] = recs[29].replacen("\"entry", "entry", 1); // record 30 a quote
    let page = format!("{{\"record_count\":50,\"actions\":[{}]}}", recs.join(","));
    let file = env.write("page.json", &page);
    let r = env.import(&[&file]).expect_code(3);
    assert!(
        r.stderr.contains("2 input record(s) refused"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("unreadable stretch, bytes "),
        "{}",
        r.stderr
    );
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(cell(&rows, row(&rows, "7"), "actions"), "48");
}

#[test]
fn files_and_gzip_over_the_size_limit_are_refused_with_the_limit_named() {
    let env = Env::new();
    let big = env.write("big.ndjson", &ndjson_lines(40).join("\n"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(ndjson_lines(200).join("\n").as_bytes())
        .unwrap();
    let bomb = env.path("bomb.ndjson.gz");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 3000);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_halo-billing"))
        .args(["import", big.to_str().unwrap(), bomb.to_str().unwrap()])
        .env("HALO_BILLING_STORE", env.store())
        .env("HALO_BILLING_MAX_INPUT_BYTES", "3000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("big.ndjson:0: whole file: cannot read: the file holds more than 3000 bytes"),
        "{err}"
    );
    assert!(
        err.contains(
            "bomb.ndjson.gz:0: whole file: cannot read: its gzip unpacks to more than 3000 bytes"
        ),
        "{err}"
    );
    assert!(err.contains("HALO_BILLING_MAX_INPUT_BYTES"), "{err}");
}

/// Runs the binary with `args` and `vars` under `/usr/bin/time`; returns the exit code,
/// standard error and the peak resident memory in KB. Killed after `limit`.
fn measured(
    env: &Env,
    args: &[&str],
    vars: &[(&str, &str)],
    limit: std::time::Duration,
) -> (Option<i32>, String, u64) {
    let mut child = std::process::Command::new("/usr/bin/time")
        .args(["-f", "peak-kb %M"])
        .arg(env!("CARGO_BIN_EXE_halo-billing"))
        .args(args)
        .current_dir(env.dir.path())
        .env("HALO_BILLING_STORE", env.store())
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let kb = err
        .lines()
        .find_map(|l| l.strip_prefix("peak-kb "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (out.status.code(), err, kb)
}

#[test]
fn the_input_limit_is_read_with_its_unit_and_refused_when_it_does_not_parse_or_exceeds_the_machine()
{
    let env = Env::new();
    let page = env.write("page.ndjson", &ndjson_lines(40).join("\n"));
    for (value, says) in [
        ("abc", "`abc` is not a size"),
        ("-1", "`-1` is not a size"),
        ("0", "0 would refuse every file"),
        ("900TB", "more than this machine can hold"),
    ] {
        let r = env.run_with_env(
            &["import", page.to_str().unwrap()],
            &[("HALO_BILLING_MAX_INPUT_BYTES", value)],
        );
        assert_eq!(r.code, 2, "{value}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{value}: {}", r.stderr);
    }
    // A unit counts: 1kb is 1,000 bytes, and the page is larger.
    let r = env.run_with_env(
        &["import", page.to_str().unwrap()],
        &[("HALO_BILLING_MAX_INPUT_BYTES", "1kb")],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("more than 1000 bytes"), "{}", r.stderr);
    env.run_with_env(
        &["import", page.to_str().unwrap()],
        &[("HALO_BILLING_MAX_INPUT_BYTES", "1MiB")],
    )
    .ok();
}

#[test]
fn an_endless_input_is_cut_at_the_limit() {
    let env = Env::new();
    let (code, err, kb) = measured(
        &env,
        &["import", "/dev/zero"],
        &[("HALO_BILLING_MAX_INPUT_BYTES", "50MB")],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("the file holds more than 50000000 bytes"),
        "{err}"
    );
    assert!(kb < 400_000, "peak {kb} KB");
}

#[test]
fn a_gzip_bomb_is_not_unpacked_past_its_ratio() {
    use std::io::{Read, Write};
    let env = Env::new();
    // 400 MB of spaces in about 400 KB (a thousand times smaller).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut zeros = std::io::repeat(b' ').take(400 << 20);
    std::io::copy(&mut zeros, &mut gz).unwrap();
    gz.flush().unwrap();
    let bomb = env.path("bomb.json.gz");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let (code, err, kb) = measured(
        &env,
        &["import", bomb.to_str().unwrap(), bomb.to_str().unwrap()],
        &[],
        std::time::Duration::from_secs(120),
    );
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("a gzip bomb is not unpacked further"), "{err}");
    assert!(kb < 400_000, "peak {kb} KB: each bomb stopped at 64 MiB");
}

#[test]
fn many_tiny_files_take_memory_that_does_not_grow_with_their_number() {
    let env = Env::new();
    let dir = env.path("tiny");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..12_000 {
        std::fs::write(
            dir.join(format!("{i:05}.json")),
            format!(
                "{{\"id\":1,\"ticket_id\":{},\"datetime\":\"2026-10-05T10:00:00Z\",\"timetaken\":1}}",
                i + 1
            ),
        )
        .unwrap();
    }
    let (code, err, kb) = measured(
        &env,
        &["import", dir.to_str().unwrap()],
        &[],
        std::time::Duration::from_secs(300),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(kb < 350_000, "peak {kb} KB for 12,000 one-record files");
    let rows = env.report_csv("contracts", &["--period", "2026-10"]);
    assert_eq!(
        column_sum(&rows, "actions"),
        rust_decimal::Decimal::from(12_000)
    );
}
