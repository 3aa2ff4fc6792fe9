//! `halo-billing jobs list|run`: unattended month-end jobs.

use super::StoreArg;
use crate::error::{EXIT_ATTENTION, Error};
use crate::jobs::{self, InputRecord, Job, JobsFile, OutputRecord, RunManifest, StepRecord};
use crate::progress::Progress;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Run named month-end jobs from a jobs file: an optional sync, then reports and exports
/// for a period expression, into an output folder, with a run manifest in the store.
///
/// A jobs file (default ~/.config/halo-billing/jobs.toml, or --jobs FILE):
///
///   [[job]]
///   name = "month-end"
///   period = "previous-month"        # current-month, or YYYY-MM
///   # timezone = "Europe/London"     # default: the store's zone (halo-billing timezone)
///   sync = true                      # sync the period from Halo first
///   sync_options = { rate_limit = 200, max_deletions = 100 }   # any sync flag
///   reports = ["contracts", "invoices", "unbilled", "prepay", "pack"]
///   balances = "blocks.csv"          # for prepay and pack (relative to the jobs file)
///   exports = ["xero"]               # xero, quickbooks, datev, csv
///   mapping = "mapping.toml"         # relative to the jobs file
///   out = "out/{period}/{name}"      # a folder per run, relative to the jobs file
///   strict = true                    # reports exit 5 on a coverage gap (the default)
///
/// Every job is checked before anything runs (`jobs list` checks them too): report
/// names, export formats, the mapping, the balances and config files, the out folder,
/// the zone and the sync options; each problem is named and nothing runs (exit 2).
///
/// Each step runs this binary as a person would: the sync, then the exports (`export
/// FORMAT ... --out FOLDER/FORMAT.csv`; DATEV files go in the folder itself), then the
/// reports (`report NAME --period P --out FOLDER/NAME.csv --strict`, `report pack ...
/// --format html --out FOLDER/pack.html`; they show what the exports left to bill), so
/// files are written atomically and checked the same way. Its output is passed on as it
/// comes, each line with the time, the job and the step (--log-format json: one JSON
/// object a line). Every run writes a manifest to STORE/runs/ (job, period, store
/// generation, inputs and outputs with size and SHA-256, each step's exit code,
/// warnings and duration, outcome), also when it is stopped by SIGTERM or Ctrl-C (the
/// running step is stopped the same way; outcome `interrupted`).
///
/// An export exits 5 without writing when the store does not cover its period (a
/// current-month job is covered up to now); an export that left work out (already
/// exported, or without a contract) makes the job's outcome `attention`.
///
/// One failing job does not stop the others. Exit code: 0 when every job succeeded; 6
/// when the only trouble is work left out of an export (attention); otherwise the
/// failing steps' exit code when they all agree (2 a bad mapping or argument, 4
/// held-back deletions, 5 a coverage gap), else 1; 143/130 when stopped by a signal.
///
/// Examples:
///   halo-billing jobs list --jobs jobs.toml
///   halo-billing jobs run month-end --jobs jobs.toml
///   halo-billing jobs run --all --as-of 2026-11-05     # the 2026-10 files, again
///   halo-billing jobs run --all --log-format json      # for a log aggregator
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Check the jobs and list them, with the period each would run for today (or --as-of).
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
    /// How lines are written: `text` (time, job, step, message) or `json` (one object a
    /// line: time, job, step, stream, message).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    common: Common,
}

/// How `jobs run` writes its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// `2026-12-01T06:00:03Z [month-end] sync: message`.
    Text,
    /// `{"time": ..., "job": ..., "step": ..., "stream": ..., "message": ...}`.
    Json,
}

/// Runs `jobs`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    match args.action {
        Action::List(c) => list(&c),
        Action::Run(r) => {
            crate::interrupt::install().map_err(|source| Error::Output {
                path: PathBuf::from("<signal handlers>"),
                source,
            })?;
            run_jobs(&r, progress)
        }
    }
}

fn jobs_file(c: &Common) -> Result<PathBuf, Error> {
    c.jobs.clone().or_else(jobs::default_file).ok_or_else(|| {
        Error::Usage("no jobs file: pass --jobs FILE (or set HALO_BILLING_JOBS)".into())
    })
}

/// The jobs file read and every job checked: its folder and the jobs.
fn load(c: &Common) -> Result<(PathBuf, PathBuf, JobsFile), Error> {
    let path = jobs_file(c)?;
    let (file, mut problems) = jobs::read(&path).map_err(Error::Usage)?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    problems.extend(check(&file, &base, c)?);
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "the jobs file `{}` cannot run as it is; nothing was run:\n  {}",
            path.display(),
            problems.join("\n  ")
        )));
    }
    Ok((path, base, file))
}

/// Every problem of every job, before anything runs: report names, export formats, the
/// mapping, balances and config files, the out folder, the zone and the sync options.
fn check(file: &JobsFile, base: &Path, c: &Common) -> Result<Vec<String>, Error> {
    let names = super::report::report_names(None)?;
    let mut problems = Vec::new();
    for j in &file.jobs {
        let mut say = |p: String| problems.push(format!("job `{}`: {p}", j.name));
        for r in &j.reports {
            if !names.contains(r) {
                let near: Vec<&String> = names.iter().filter(|n| similar(n, r)).collect();
                say(format!(
                    "there is no report `{r}`{}; the reports are: {}",
                    near.first()
                        .map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default(),
                    names.join(", ")
                ));
            }
        }
        if let Some(m) = &j.mapping
            && let Err(e) = crate::export::mapping::Mapping::read(&base.join(m))
        {
            say(e);
        }
        if let Some(b) = &j.balances {
            let p = base.join(b);
            let month = crate::period::Period::month("2026-01", chrono_tz::UTC).expect("a month");
            if let Err(e) = crate::report::prepay::read_balances(&p, &month) {
                say(e.to_string());
            }
            if !j.reports.iter().any(|r| r == "prepay" || r == "pack") {
                say(format!(
                    "balances `{b}` are used by the prepay and pack reports only, and the job has neither"
                ));
            }
        }
        if let Some(cfg) = &j.config {
            let p = base.join(cfg);
            if !p.is_file() {
                say(format!("the sync config `{}` does not exist", p.display()));
            }
            if !j.sync {
                say("config is for the sync, and the job has sync = false".into());
            }
        }
        if !j.sync && !j.sync_options.is_empty() {
            say("sync_options are given, but the job has sync = false".into());
        }
        let s = &j.sync_options;
        for (key, v) in [
            ("window", &s.window),
            ("rate_window", &s.rate_window),
            ("timeout", &s.timeout),
            ("skip_synced_within", &s.skip_synced_within),
        ] {
            if let Some(v) = v
                && let Err(e) = super::sync::parse_duration(v)
            {
                say(format!("sync_options.{key}: {e}"));
            }
        }
        if let Some(v) = &s.max_deletion_share
            && let Err(e) = super::sync::parse_share(v)
        {
            say(format!("sync_options.max_deletion_share: {e}"));
        }
        if let Some(w) = s.workers
            && !(1..=16).contains(&w)
        {
            say(format!("sync_options.workers {w} is not 1 to 16"));
        }
        if let Some(z) = &j.timezone
            && let Err(e) = crate::period::parse_zone(z)
        {
            say(e.to_string());
        }
        if let Some(ch) = &j.changed
            && !["correct", "refuse"].contains(&ch.as_str())
        {
            say(format!("changed `{ch}` is not `correct` or `refuse`"));
        }
        let template = j.out.as_deref().unwrap_or(DEFAULT_OUT);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map(|c| open + c);
            match close.map(|c| &rest[open + 1..c]) {
                Some("period" | "name") => rest = &rest[close.expect("found") + 1..],
                Some(other) => {
                    say(format!(
                        "out `{template}` names `{{{other}}}`; the placeholders are {{period}} and {{name}}"
                    ));
                    break;
                }
                None => {
                    say(format!("out `{template}` has a `{{` without its `}}`"));
                    break;
                }
            }
        }
        let outside = Path::new(template).is_absolute()
            || Path::new(template)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if outside && !j.out_anywhere {
            say(format!(
                "out `{template}` leaves the jobs file's folder; a job writes below it unless it says \
                 `out_anywhere = true`"
            ));
        }
        let out = base.join(jobs::fill_out(template, "2026-01", &j.name));
        if let Ok(store) = std::fs::canonicalize(c.store.path())
            && crate::fsutil::resolved(&out).starts_with(&store)
        {
            say(format!(
                "out `{template}` is inside the store `{}`, whose files are its own",
                c.store.path().display()
            ));
        }
        let mut at = out.as_path();
        loop {
            if at.exists() {
                if !at.is_dir() {
                    say(format!(
                        "out `{}`: `{}` is a file, not a folder",
                        out.display(),
                        at.display()
                    ));
                }
                break;
            }
            match at.parent() {
                Some(p) if !p.as_os_str().is_empty() => at = p,
                _ => break,
            }
        }
    }
    // The store must exist before a job without a sync can report on it.
    if file.jobs.iter().any(|j| !j.sync) && !c.store.path().is_dir() {
        problems.push(format!(
            "there is no store at `{}` and not every job syncs first (--store DIR, HALO_BILLING_STORE)",
            c.store.path().display()
        ));
    }
    Ok(problems)
}

/// Whether `a` and `b` differ by at most two letters (a typo: `contrcts`).
fn similar(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (k, cb) in b.iter().enumerate() {
            cur[k + 1] = (prev[k] + usize::from(ca != cb))
                .min(prev[k + 1] + 1)
                .min(cur[k] + 1);
        }
        prev = cur;
    }
    prev[b.len()] <= 2
}

const DEFAULT_OUT: &str = "out/{period}/{name}";

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

/// A job's zone: its own, else the store's, else UTC.
fn zone_of(job: &Job, c: &Common) -> Result<String, Error> {
    c.store.zone(job.timezone.as_deref())
}

fn list(c: &Common) -> Result<(), Error> {
    let (_, base, file) = load(c)?;
    let mut lines = Vec::new();
    for j in &file.jobs {
        let tz = zone_of(j, c)?;
        let period = jobs::resolve_period(&j.period, as_of(c, &tz)?).map_err(Error::Usage)?;
        let mut steps: Vec<String> = Vec::new();
        if j.sync {
            steps.push("sync".into());
        }
        steps.extend(j.reports.iter().map(|r| format!("report {r}")));
        steps.extend(j.exports.iter().map(|e| format!("export {e}")));
        lines.push(format!(
            "{:<20} {} -> {} ({tz}): {}; out {}",
            j.name,
            j.period,
            period,
            steps.join(", "),
            base.join(jobs::fill_out(
                j.out.as_deref().unwrap_or(DEFAULT_OUT),
                &period,
                &j.name
            ))
            .display()
        ));
    }
    super::write_output(None, |w| {
        for l in &lines {
            writeln!(w, "{l}")?;
        }
        Ok(())
    })
}

/// Writes the run's lines: text with the time, or JSON.
#[derive(Clone, Copy)]
struct Log {
    format: LogFormat,
    quiet: bool,
}

impl Log {
    /// One line: `stream` is `stderr`/`stdout` for a step's own lines, `job` for the
    /// runner's.
    fn line(&self, job: &str, step: &str, stream: &str, message: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let text = match self.format {
            LogFormat::Text if step.is_empty() => format!("{time} [{job}] {message}"),
            LogFormat::Text => format!("{time} [{job}] {step}: {message}"),
            LogFormat::Json => serde_json::json!({
                "time": time,
                "job": job,
                "step": step,
                "stream": stream,
                "message": message,
            })
            .to_string(),
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// A runner's note (not with --quiet).
    fn note(&self, job: &str, step: &str, message: &str) {
        if !self.quiet {
            self.line(job, step, "job", message);
        }
    }
}

/// What a step's output said, gathered as it streams.
#[derive(Default)]
struct Heard {
    last: std::collections::VecDeque<String>,
    warnings: u64,
}

/// One step's child process: this binary with `args`, the store set; its output is
/// passed on line by line as it comes. A stop request (SIGTERM, Ctrl-C) is passed on to
/// the child, which stops at its next safe point. Returns its exit code.
fn step(
    store: &Path,
    args: &[String],
    (job, name): (&str, &str),
    log: Log,
    heard: &Arc<Mutex<Heard>>,
) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            log.line(
                job,
                name,
                "job",
                &format!("cannot find this program to run a step: {e}"),
            );
            return 1;
        }
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args)
        .env("HALO_BILLING_STORE", store)
        .env(crate::threads::ENV, crate::threads::count().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // The step runs in its own process group: a Ctrl-C at a terminal (or a signal to
    // this process) reaches the runner alone, which passes it on once, so the step
    // stops at its next safe point rather than at once on a second signal.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            log.line(job, name, "job", &format!("cannot start the step: {e}"));
            return 1;
        }
    };
    let readers: Vec<std::thread::JoinHandle<()>> = [
        child
            .stdout
            .take()
            .map(|s| (Box::new(s) as Box<dyn std::io::Read + Send>, "stdout")),
        child
            .stderr
            .take()
            .map(|s| (Box::new(s) as Box<dyn std::io::Read + Send>, "stderr")),
    ]
    .into_iter()
    .flatten()
    .map(|(pipe, stream)| {
        let heard = Arc::clone(heard);
        let (job, name) = (job.to_string(), name.to_string());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let shown = line.strip_prefix("halo-billing: ").unwrap_or(&line);
                log.line(&job, &name, stream, shown);
                let mut h = heard.lock().expect("heard");
                if shown.starts_with("warning:") || shown.contains("WARNING") {
                    h.warnings += 1;
                }
                h.last.push_back(shown.to_string());
                if h.last.len() > 10 {
                    h.last.pop_front();
                }
            }
        })
    })
    .collect();
    let mut passed_on = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if !passed_on && let Some((signal, _)) = crate::interrupt::requested() {
            passed_on = true;
            log.line(job, name, "job", &format!("{signal}: stopping the step"));
            #[cfg(unix)]
            {
                let sig = if signal == "SIGINT" {
                    libc::SIGINT
                } else {
                    libc::SIGTERM
                };
                // SAFETY: kill(2) with the pid of our own child and a signal number.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, sig);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for r in readers {
        let _ = r.join();
    }
    match status {
        Some(s) => s.code().unwrap_or_else(|| {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                s.signal().map_or(1, |g| 128 + g)
            }
            #[cfg(not(unix))]
            {
                1
            }
        }),
        None => 1,
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

/// The job's outcome and exit code from its steps' codes.
fn outcome(codes: &[i32]) -> (&'static str, i32) {
    if let Some(c) = codes.iter().find(|c| matches!(**c, 130 | 143)) {
        return ("interrupted", *c);
    }
    let mut failed: Vec<i32> = codes
        .iter()
        .copied()
        .filter(|c| *c != 0 && *c != EXIT_ATTENTION)
        .collect();
    failed.sort();
    failed.dedup();
    match failed.as_slice() {
        [] if codes.contains(&EXIT_ATTENTION) => ("attention", EXIT_ATTENTION),
        [] => ("ok", 0),
        [one] => ("failed", *one),
        _ => ("failed", 1),
    }
}

/// Runs one job; returns its manifest.
fn run_job(
    job: &Job,
    base: &Path,
    jobs_path: &Path,
    store: &Path,
    c: &Common,
    log: Log,
) -> Result<RunManifest, Error> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let tz = zone_of(job, c)?;
    let day = as_of(c, &tz)?;
    let period = jobs::resolve_period(&job.period, day).map_err(Error::Usage)?;
    let out_dir = base.join(jobs::fill_out(
        job.out.as_deref().unwrap_or(DEFAULT_OUT),
        &period,
        &job.name,
    ));
    std::fs::create_dir_all(&out_dir).map_err(|source| Error::Output {
        path: out_dir.clone(),
        source,
    })?;
    log.note(
        &job.name,
        "",
        &format!("started: {period} ({tz}), out {}", out_dir.display()),
    );
    let mut steps: Vec<StepRecord> = Vec::new();
    let mut outputs: Vec<PathBuf> = Vec::new();
    let quiet = if log.quiet {
        vec!["--quiet".to_string()]
    } else {
        Vec::new()
    };
    let mut run_step = |name: String, mut args: Vec<String>, outputs: &mut Vec<PathBuf>| -> i32 {
        if crate::interrupt::requested().is_some() {
            return -1; // stopped: not run
        }
        args.extend(quiet.iter().cloned());
        log.note(&job.name, &name, "started");
        let at = chrono::Utc::now();
        let t0 = Instant::now();
        let since = SystemTime::now() - Duration::from_millis(5);
        let heard = Arc::new(Mutex::new(Heard::default()));
        let code = step(store, &args, (&job.name, &name), log, &heard);
        let secs = t0.elapsed().as_secs_f64();
        log.note(
            &job.name,
            &name,
            &format!("ended: exit {code} in {secs:.1} s"),
        );
        outputs.extend(written_since(&out_dir, since));
        let h = heard.lock().expect("heard");
        steps.push(StepRecord {
            step: name,
            started_at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_seconds: secs,
            exit_code: code,
            warnings: h.warnings,
            messages: h.last.iter().cloned().collect(),
        });
        code
    };
    let mut period_args = vec!["--period".to_string(), period.clone()];
    period_args.extend(["--timezone".into(), tz.clone()]);
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
        a.extend(job.sync_options.args());
        synced_ok = run_step("sync".into(), a, &mut outputs) == 0;
    }
    if synced_ok {
        // Exports first: the reports then show what this run exported (unbilled's
        // exported_amount), the same on every run of the same store.
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
            if let Some(ch) = &job.changed {
                a.extend(["--changed".into(), ch.clone()]);
            }
            run_step(format!("export {e}"), a, &mut outputs);
        }
        for r in &job.reports {
            let mut a = vec!["report".to_string(), r.clone()];
            a.extend(period_args.iter().cloned());
            let file = if r == "pack" {
                a.extend(["--format".into(), "html".into()]);
                out_dir.join("pack.html")
            } else {
                out_dir.join(format!("{r}.csv"))
            };
            a.extend(["--out".into(), file.display().to_string()]);
            if let (Some(b), true) = (&job.balances, r == "prepay" || r == "pack") {
                a.extend(["--balances".into(), base.join(b).display().to_string()]);
            }
            if job.strict {
                a.push("--strict".into());
            }
            run_step(format!("report {r}"), a, &mut outputs);
        }
    }
    outputs.sort();
    outputs.dedup();
    let mut codes: Vec<i32> = steps.iter().map(|s| s.exit_code).collect();
    if let Some((_, code)) = crate::interrupt::requested() {
        codes.push(code);
    }
    let (outcome, exit_code) = outcome(&codes);
    let mut inputs = vec![InputRecord {
        path: jobs_path.display().to_string(),
        sha256: jobs::file_sha256(jobs_path).unwrap_or_default(),
    }];
    for f in [&job.mapping, &job.balances, &job.config]
        .into_iter()
        .flatten()
    {
        let p = base.join(f);
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
        warnings: steps.iter().map(|s| s.warnings).sum(),
        steps,
        outcome: outcome.into(),
        exit_code,
    })
}

fn run_jobs(r: &RunArgs, progress: &Progress) -> Result<(), Error> {
    let (path, base, file) = load(&r.common)?;
    let log = Log {
        format: r.log_format,
        quiet: progress.is_quiet(),
    };
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
    let store = r.common.store.path();
    if !store.is_dir() && selected.iter().any(|j| !j.sync) {
        return Err(Error::NoStore(store));
    }
    let runs = store.join("runs");
    std::fs::create_dir_all(&runs).map_err(|source| Error::Output {
        path: runs.clone(),
        source,
    })?;
    let mut codes = Vec::new();
    for job in selected {
        if crate::interrupt::requested().is_some() {
            break;
        }
        let m = run_job(job, &base, &path, &store, &r.common, log)?;
        let name = format!(
            "{}-{}-{}.json",
            m.started_at.replace([':', '-', '.'], ""),
            m.job,
            m.period
        );
        let file = runs.join(name);
        let text = serde_json::to_string_pretty(&m).expect("a manifest serialises");
        // Private: a run manifest quotes the steps' output.
        crate::fsutil::write_private(&file, |w| std::io::Write::write_all(w, text.as_bytes()))
            .map_err(|source| Error::Output {
                path: file.clone(),
                source,
            })?;
        // Said even with --quiet: a scheduler's log should show each job's outcome.
        let shown = match m.outcome.as_str() {
            "ok" => "ok".to_string(),
            "attention" => "ATTENTION (exit 6: work was left out of an export)".into(),
            "interrupted" => format!("INTERRUPTED (exit {})", m.exit_code),
            _ => format!("FAILED (exit {})", m.exit_code),
        };
        log.line(
            &m.job,
            "",
            "job",
            &format!(
                "job {} ({}): {shown}, {} file(s), {} warning(s), {:.1} s; manifest {}",
                m.job,
                m.period,
                m.outputs.len(),
                m.warnings,
                m.duration_seconds,
                file.display()
            ),
        );
        codes.push(m.exit_code);
    }
    if let Some((signal, code)) = crate::interrupt::requested() {
        return Err(Error::Interrupted {
            signal,
            code,
            detail: "the jobs stopped; each run so far has its manifest in STORE/runs".into(),
        });
    }
    let (_, code) = outcome(&codes);
    match code {
        0 => Ok(()),
        c => Err(Error::JobsFailed(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_put_failures_before_attention_and_signals_first() {
        assert_eq!(outcome(&[0, 0]), ("ok", 0));
        assert_eq!(outcome(&[0, 6]), ("attention", 6));
        assert_eq!(outcome(&[5, 6]), ("failed", 5));
        assert_eq!(outcome(&[5, 2]), ("failed", 1));
        assert_eq!(outcome(&[0, 143, 5]), ("interrupted", 143));
    }

    #[test]
    fn a_typo_of_a_report_name_is_similar_and_another_name_is_not() {
        assert!(similar("contracts", "contrcts"));
        assert!(!similar("contracts", "agents"));
    }
}
