//! `halo-billing jobs list|run`: unattended month-end jobs.

use super::StoreArg;
use crate::error::Error;
use crate::jobs::{self, InputRecord, Job, OutputRecord, RunManifest, StepRecord};
use crate::progress::Progress;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// Run named month-end jobs from a jobs file: an optional sync, then reports and exports
/// for a period expression, into an output folder, with a run manifest in the store.
///
/// A jobs file (default ~/.config/halo-billing/jobs.toml, or --jobs FILE):
///
///   [[job]]
///   name = "month-end"
///   period = "previous-month"        # current-month, or YYYY-MM
///   timezone = "Europe/London"       # default UTC
///   sync = false                     # true: sync the period from Halo first
///   reports = ["contracts", "invoices", "unbilled"]
///   exports = ["xero"]               # xero, quickbooks, datev, csv
///   mapping = "mapping.toml"         # relative to the jobs file
///   out = "out/{period}/{name}"      # a folder per run, relative to the jobs file
///   strict = true                    # reports exit 5 on a coverage gap (the default)
///
/// Each step runs this binary as a person would (`report NAME --period P --out
/// FOLDER/NAME.csv --strict`, `export FORMAT ... --out FOLDER/FORMAT.csv`; DATEV files
/// go in the folder itself), so files are written atomically and checked the same way.
/// The same store and inputs give byte-identical outputs. Every run writes a manifest to
/// STORE/runs/ (job, period, store generation, inputs and outputs with size and SHA-256,
/// each step's exit code, duration, outcome).
///
/// One failing job does not stop the others. Exit code: 0 when every job succeeded;
/// otherwise the failing steps' exit code when they all agree (2 a bad mapping or
/// argument, 4 held-back deletions, 5 a coverage gap), else 1.
///
/// Examples:
///   halo-billing jobs list --jobs jobs.toml
///   halo-billing jobs run month-end --jobs jobs.toml
///   halo-billing jobs run --all --as-of 2026-11-05     # the 2026-10 files, again
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// List the jobs, with the period each would run for today (or --as-of).
    List(Common),
    /// Run one job, or all of them.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The jobs file [default: $XDG_CONFIG_HOME/halo-billing/jobs.toml].
    #[arg(long, env = "HALO_BILLING_JOBS", value_name = "FILE")]
    jobs: Option<PathBuf>,
    /// Evaluate period expressions on this date instead of today (tests, re-runs).
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<String>,
    #[command(flatten)]
    store: StoreArg,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The job to run.
    #[arg(
        value_name = "NAME",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    name: Option<String>,
    /// Run every job, in file order.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    common: Common,
}

/// Runs `jobs`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    match args.action {
        Action::List(c) => list(&c),
        Action::Run(r) => run_jobs(&r, progress),
    }
}

fn jobs_file(c: &Common) -> Result<PathBuf, Error> {
    c.jobs.clone().or_else(jobs::default_file).ok_or_else(|| {
        Error::Usage("no jobs file: pass --jobs FILE (or set HALO_BILLING_JOBS)".into())
    })
}

/// Today in `tz`, or the --as-of date.
fn as_of(c: &Common, tz: &str) -> Result<chrono::NaiveDate, Error> {
    match &c.as_of {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("--as-of `{d}` is not a date like 2026-11-05"))),
        None => {
            let zone = crate::period::parse_zone(tz)?;
            Ok(chrono::Utc::now().with_timezone(&zone).date_naive())
        }
    }
}

fn list(c: &Common) -> Result<(), Error> {
    let path = jobs_file(c)?;
    let file = jobs::read(&path).map_err(Error::Usage)?;
    for j in &file.jobs {
        let tz = j.timezone.clone().unwrap_or_else(|| "UTC".into());
        let period = jobs::resolve_period(&j.period, as_of(c, &tz)?).map_err(Error::Usage)?;
        let mut steps: Vec<String> = Vec::new();
        if j.sync {
            steps.push("sync".into());
        }
        steps.extend(j.reports.iter().map(|r| format!("report {r}")));
        steps.extend(j.exports.iter().map(|e| format!("export {e}")));
        println!(
            "{:<20} {} -> {} ({tz}): {}; out {}",
            j.name,
            j.period,
            period,
            steps.join(", "),
            jobs::fill_out(
                j.out.as_deref().unwrap_or("out/{period}/{name}"),
                &period,
                &j.name
            )
        );
    }
    Ok(())
}

/// One step's child process: this binary with `args`, the store set.
fn step(store: &Path, args: &[String]) -> (i32, Vec<String>) {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return (
                1,
                vec![format!("cannot find this program to run a step: {e}")],
            );
        }
    };
    match std::process::Command::new(exe)
        .args(args)
        .env("HALO_BILLING_STORE", store)
        .env(crate::threads::ENV, crate::threads::count().to_string())
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            (o.status.code().unwrap_or(1), lines)
        }
        Err(e) => (1, vec![format!("cannot start the step: {e}")]),
    }
}

/// Files in `dir` (not in subfolders) written at or after `since`, sorted.
fn written_since(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.metadata()
                .ok()
                .filter(|m| m.is_file())
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t >= since)
        })
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    out.sort();
    out
}

/// Runs one job; returns its manifest.
fn run_job(
    job: &Job,
    base: &Path,
    jobs_path: &Path,
    store: &Path,
    c: &Common,
    progress: &Progress,
) -> Result<RunManifest, Error> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let tz = job.timezone.clone().unwrap_or_else(|| "UTC".into());
    let day = as_of(c, &tz)?;
    let period = jobs::resolve_period(&job.period, day).map_err(Error::Usage)?;
    let out_dir = base.join(jobs::fill_out(
        job.out.as_deref().unwrap_or("out/{period}/{name}"),
        &period,
        &job.name,
    ));
    std::fs::create_dir_all(&out_dir).map_err(|source| Error::Output {
        path: out_dir.clone(),
        source,
    })?;
    let mut steps: Vec<StepRecord> = Vec::new();
    let mut outputs: Vec<PathBuf> = Vec::new();
    let mut run_step = |name: String, args: Vec<String>, outputs: &mut Vec<PathBuf>| -> i32 {
        progress.note(&format!("job {}: {name}", job.name));
        let since = SystemTime::now() - std::time::Duration::from_millis(5);
        let (code, messages) = step(store, &args);
        for m in &messages {
            eprintln!("  [{}] {m}", job.name);
        }
        outputs.extend(written_since(&out_dir, since));
        steps.push(StepRecord {
            step: name,
            exit_code: code,
            messages: messages.iter().rev().take(10).rev().cloned().collect(),
        });
        code
    };
    let period_args = [
        "--period".to_string(),
        period.clone(),
        "--timezone".into(),
        tz.clone(),
    ];
    let mut synced_ok = true;
    if job.sync {
        // Halo is asked in UTC: a day either side covers the month in any zone.
        let first = chrono::NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d")
            .expect("a resolved month");
        let next = first + chrono::Months::new(1);
        let mut a = vec![
            "sync".to_string(),
            "--from".into(),
            (first - chrono::Days::new(1)).to_string(),
            "--to".into(),
            (next + chrono::Days::new(1)).to_string(),
        ];
        if let Some(cfg) = &job.config {
            a.extend(["--config".into(), base.join(cfg).display().to_string()]);
        }
        synced_ok = run_step("sync".into(), a, &mut outputs) == 0;
    }
    if synced_ok {
        for r in &job.reports {
            let mut a = vec!["report".to_string(), r.clone()];
            a.extend(period_args.iter().cloned());
            a.extend([
                "--out".into(),
                out_dir.join(format!("{r}.csv")).display().to_string(),
            ]);
            if job.strict {
                a.push("--strict".into());
            }
            run_step(format!("report {r}"), a, &mut outputs);
        }
        for e in &job.exports {
            let mapping = base.join(job.mapping.as_deref().unwrap_or("mapping.toml"));
            let target = match e.as_str() {
                "datev" => out_dir.clone(),
                "csv" => out_dir.join("ledger.csv"),
                other => out_dir.join(format!("{other}.csv")),
            };
            let mut a = vec!["export".to_string(), e.clone()];
            a.extend(period_args.iter().cloned());
            a.extend([
                "--mapping".into(),
                mapping.display().to_string(),
                "--out".into(),
                target.display().to_string(),
            ]);
            run_step(format!("export {e}"), a, &mut outputs);
        }
    }
    outputs.sort();
    outputs.dedup();
    let mut failed: Vec<i32> = steps
        .iter()
        .map(|s| s.exit_code)
        .filter(|c| *c != 0)
        .collect();
    failed.sort();
    failed.dedup();
    let exit_code = match failed.as_slice() {
        [] => 0,
        [one] => *one,
        _ => 1,
    };
    let mut inputs = vec![InputRecord {
        path: jobs_path.display().to_string(),
        sha256: jobs::file_sha256(jobs_path).unwrap_or_default(),
    }];
    if let Some(m) = &job.mapping {
        let p = base.join(m);
        inputs.push(InputRecord {
            path: p.display().to_string(),
            sha256: jobs::file_sha256(&p).unwrap_or_default(),
        });
    }
    let outputs = outputs
        .iter()
        .map(|p| OutputRecord {
            path: p.display().to_string(),
            bytes: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            sha256: jobs::file_sha256(p).unwrap_or_default(),
        })
        .collect();
    let store_generation = crate::store::Store::open(store)
        .map(|s| s.manifest().generation)
        .unwrap_or(0);
    Ok(RunManifest {
        job: job.name.clone(),
        period,
        as_of: day.to_string(),
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        duration_seconds: started.elapsed().as_secs_f64(),
        store_generation,
        inputs,
        outputs,
        steps,
        outcome: if exit_code == 0 { "ok" } else { "failed" }.into(),
        exit_code,
    })
}

fn run_jobs(r: &RunArgs, progress: &Progress) -> Result<(), Error> {
    let path = jobs_file(&r.common)?;
    let file = jobs::read(&path).map_err(Error::Usage)?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let selected: Vec<&Job> = match &r.name {
        Some(n) => {
            let j = file.jobs.iter().find(|j| &j.name == n).ok_or_else(|| {
                let names: Vec<&str> = file.jobs.iter().map(|j| j.name.as_str()).collect();
                Error::Usage(format!(
                    "there is no job `{n}` in `{}`; its jobs: {}",
                    path.display(),
                    names.join(", ")
                ))
            })?;
            vec![j]
        }
        None => file.jobs.iter().collect(),
    };
    let store = r.common.store.existing()?;
    let runs = store.join("runs");
    std::fs::create_dir_all(&runs).map_err(|source| Error::Output {
        path: runs.clone(),
        source,
    })?;
    let mut codes = Vec::new();
    for job in selected {
        let m = run_job(job, &base, &path, &store, &r.common, progress)?;
        let name = format!(
            "{}-{}-{}.json",
            m.started_at.replace([':', '-', '.'], ""),
            m.job,
            m.period
        );
        let file = runs.join(name);
        let text = serde_json::to_string_pretty(&m).expect("a manifest serialises");
        crate::fsutil::write_atomic(&file, |w| std::io::Write::write_all(w, text.as_bytes()))
            .map_err(|source| Error::Output {
                path: file.clone(),
                source,
            })?;
        // Said even with --quiet: a scheduler's log should show each job's outcome.
        eprintln!(
            "halo-billing: job {} ({}): {}, {} file(s), {:.1} s; manifest {}",
            m.job,
            m.period,
            if m.exit_code == 0 {
                "ok".to_string()
            } else {
                format!("FAILED (exit {})", m.exit_code)
            },
            m.outputs.len(),
            m.duration_seconds,
            file.display()
        );
        codes.push(m.exit_code);
    }
    codes.retain(|c| *c != 0);
    codes.sort();
    codes.dedup();
    match codes.as_slice() {
        [] => Ok(()),
        [one] => Err(Error::JobsFailed(*one)),
        _ => Err(Error::JobsFailed(1)),
    }
}
