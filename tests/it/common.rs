//! Drives the real `halo-billing` binary in a temporary folder.
#![allow(dead_code)]

use std::io::BufRead;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary working folder with a store inside.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// What a run printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Fails loudly, with both streams, unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn ok(self) -> Run {
        self.expect_code(0)
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn store(&self) -> PathBuf {
        self.path("store")
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs the binary with `args`, in the temp folder, with the store set by environment.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let o = Command::new(env!("CARGO_BIN_EXE_halo-billing"))
            .args(args)
            .current_dir(self.dir.path())
            .env("HALO_BILLING_STORE", self.store())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env_remove("HALO_BILLING_REPORTS")
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("binary runs");
        Run::from(o)
    }

    /// Runs the binary with `args` and extra environment variables.
    pub fn run_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let o = Command::new(env!("CARGO_BIN_EXE_halo-billing"))
            .args(args)
            .current_dir(self.dir.path())
            .env("HALO_BILLING_STORE", self.store())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env_remove("HALO_BILLING_REPORTS")
            .env_remove("RUST_BACKTRACE")
            .envs(vars.iter().copied())
            .output()
            .expect("binary runs");
        Run::from(o)
    }

    /// `generate` of `actions` actions with `seed` over 2026-09..2026-11 into `gen/`.
    pub fn generate(&self, actions: &str, seed: &str) {
        self.run([
            "generate",
            "--actions",
            actions,
            "--seed",
            seed,
            "--from",
            "2026-09",
            "--to",
            "2026-11",
            "--out",
            "gen",
        ])
        .ok();
    }

    /// [`Env::generate`], then `import gen/` into the store.
    pub fn generated(&self, actions: &str, seed: &str) {
        self.generate(actions, seed);
        self.import(&[&self.path("gen")]).ok();
    }

    pub fn import(&self, paths: &[&Path]) -> Run {
        let mut args = vec!["import".to_string()];
        args.extend(paths.iter().map(|p| p.display().to_string()));
        self.run(args)
    }

    /// Any command's CSV output parsed into rows of cells (header included).
    pub fn report_csv_of(&self, args: &[&str]) -> Vec<Vec<String>> {
        let r = self.run(args).ok();
        parse_csv(&r.stdout)
    }

    /// `report KIND --period P --format csv` parsed into rows of cells (header included).
    pub fn report_csv(&self, kind: &str, extra: &[&str]) -> Vec<Vec<String>> {
        let mut args = vec!["report", kind];
        args.extend(extra);
        let r = self.run(args).ok();
        parse_csv(&r.stdout)
    }
}

/// `bin`, after checking that it runs with `args`: a test that needs an outside tool
/// fails saying it needs `what` when the tool is missing.
pub fn runnable(bin: String, args: &[&str], what: &str) -> String {
    let found = Command::new(&bin)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "no `{bin}`: this test needs {what}");
    bin
}

/// The data set the sync and records tests have the simulator serve (generate's
/// options): 3,000 actions over September to November 2026, seed 9: six contracts (two
/// of them prepaid blocks, 101 and 105), one inactive contract besides.
pub const SYNC_DATA: [&str; 8] = [
    "--actions",
    "3000",
    "--seed",
    "9",
    "--from",
    "2026-09",
    "--to",
    "2026-11",
];

/// A fixture under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    rdr.records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Sums a CSV column of fixed-point decimals exactly (as integers of 10^-decimals).
pub fn column_sum(rows: &[Vec<String>], name: &str) -> rust_decimal::Decimal {
    let i = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows[1..]
        .iter()
        .map(|r| r[i].parse::<rust_decimal::Decimal>().unwrap())
        .sum()
}

/// The row whose first cell is `key`.
pub fn row<'a>(rows: &'a [Vec<String>], key: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r[0] == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows:?}"))
}

/// The cell of `row` under header `name`.
pub fn cell<'a>(rows: &'a [Vec<String>], row: &'a [String], name: &str) -> &'a str {
    let i = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    &row[i]
}

/// Whether no process holds the store's writer lock (asked of the operating system with
/// util-linux's `flock -n`).
pub fn lock_is_free(store: &Path) -> bool {
    let lock = store.join(".lock");
    if !lock.exists() {
        return true;
    }
    Command::new("flock")
        .arg("-n")
        .arg(&lock)
        .arg("true")
        .status()
        .expect("flock(1) from util-linux")
        .success()
}

/// A decimal from its text (a test's figures are exact).
pub fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse()
        .unwrap_or_else(|_| panic!("`{s}` is not a number"))
}

/// `export --init-mapping m.toml` for `period`, every FILL-IN replaced by a customer name
/// of its own (`Customer 1`, `Customer 2`, ...).
pub fn filled_mapping(env: &Env, period: &str) -> PathBuf {
    env.run(["export", "--init-mapping", "m.toml", "--period", period])
        .ok();
    let text = std::fs::read_to_string(env.path("m.toml")).unwrap();
    let mut n = 0;
    let filled: String = text
        .lines()
        .map(|l| {
            if l == "customer = \"FILL-IN\"" {
                n += 1;
                format!("customer = \"Customer {n}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    env.write("m.toml", &filled)
}

/// A simulator child process, killed on drop.
pub struct Sim {
    child: std::process::Child,
    pub url: String,
}

impl Sim {
    /// `simulate --port 0` over the data set `data` (generate's options), with `extra`.
    pub fn start_with(data: &[&str], extra: &[&str]) -> Sim {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_halo-billing"))
            .args(["-q", "simulate", "--port", "0"])
            .args(data)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("simulator starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected: {line}"))
            .to_string();
        Sim { child, url }
    }

    /// Runs the binary with `args` (a `sync` or a `jobs run`) against this simulator,
    /// with client id `demo` and `secret`, no config file.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, env: &Env, secret: &str, args: &[S]) -> Run {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_halo-billing"))
            .args(args)
            .current_dir(env.dir.path())
            .env("HALO_BILLING_STORE", env.store())
            .env("HALO_URL", &self.url)
            .env("HALO_CLIENT_ID", "demo")
            .env("HALO_CLIENT_SECRET", secret)
            .env("XDG_CONFIG_HOME", env.path("config"))
            .env_remove("HALO_CONFIG")
            .output()
            .unwrap();
        Run::from(o)
    }

    /// The simulator's counters (`GET /_sim/stats`).
    pub fn stats(&self) -> serde_json::Value {
        let out = std::process::Command::new("python3")
            .args(["-c", &format!("import urllib.request;print(urllib.request.urlopen('{}/_sim/stats').read().decode())", self.url)])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("stats: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
