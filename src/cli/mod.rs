//! The command line: one file per subcommand, each with its help text, arguments and
//! `run`. Arguments are checked here, before any other stage sees them.

mod close;
mod demo;
mod export;
mod exports;
mod generate;
mod import;
mod jobs;
mod query;
mod report;
mod simulate;
mod status;
mod sync;
mod timezone;

use crate::error::{EXIT_OK, Error};
use clap::{Parser, Subcommand};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const ABOUT: &str = "Exact billing and time reports from HaloPSA time entries.";
const LONG_ABOUT: &str = "\
Exact billing and time reports from HaloPSA time entries.

halo-billing reads Halo's ticket actions (saved API responses), keeps them in a local
Parquet store, and reports chargeable, non-chargeable and prepaid hours and amounts per
contract and per invoice, exact to the cent.

Typical month end:
  halo-billing timezone Europe/London                # once: the store's reporting zone
  halo-billing sync --period 2026-10                 # from the Halo API (see sync --help)
  halo-billing import ./halo-export/                 # or: saved /api/Actions responses
  halo-billing report contracts --period 2026-10 --out contracts-2026-10.csv
  halo-billing report unbilled --period 2026-10 --format table
  halo-billing export xero --period 2026-10 --mapping mapping.toml --out xero.csv
  halo-billing exports                               # the export register: what went out
  halo-billing close --period 2026-10                # freeze the month

Try it without any data of your own:
  halo-billing demo

Exit codes: 0 success; 1 the run failed; 2 the command line was wrong;
3 some input records were refused (the valid ones were imported; see the rejects file);
4 a sync held back deletions (mass-deletion guard; see sync --help);
5 the figures depend on time the store does not cover (report --strict, export):
  nothing was written;
6 an export was written but left work out (already exported, or no contract);
  jobs run: a job's outcome is attention;
7 export --changed refuse: exported work changed since (listed), nothing written;
75 another process is writing the store: run again later;
jobs run: the failing steps' code when they agree, else 1;
130/143 an import, sync or job run stopped by Ctrl-C/SIGTERM before its commit.";

/// The parsed command line.
#[derive(Debug, Parser)]
#[command(name = "halo-billing", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print no progress or summary on standard error (errors are still printed).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Threads for parsing, aggregation and Parquet decoding [default: the machine's
    /// cores, or HALO_BILLING_THREADS].
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum Command {
    Import(import::Args),
    Sync(sync::Args),
    Report(report::Args),
    Query(query::Args),
    Export(export::Args),
    Exports(exports::Args),
    Jobs(jobs::Args),
    Generate(generate::Args),
    Status(status::Args),
    Timezone(timezone::Args),
    Close(close::CloseArgs),
    Reopen(close::ReopenArgs),
    Demo(demo::Args),
    Simulate(simulate::Args),
}

/// Where the store lives unless `--store` or `HALO_BILLING_STORE` says otherwise:
/// `$XDG_DATA_HOME/halo-billing/store`, else `~/.local/share/halo-billing/store`.
pub fn default_store() -> PathBuf {
    match crate::fsutil::xdg_dir("XDG_DATA_HOME", ".local/share") {
        Some(b) => b.join("halo-billing").join("store"),
        None => PathBuf::from("halo-billing-store"),
    }
}

/// The generated data set, shared by `generate` and `simulate` (the same options give
/// the same actions, which is what lets tests compare a sync with an import).
#[derive(Debug, clap::Args)]
struct DataSetArgs {
    /// Distinct time-entry actions.
    #[arg(long, default_value_t = 10_000)]
    actions: u64,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// First month (inclusive).
    #[arg(long, value_name = "YYYY-MM", default_value = "2026-01")]
    from: String,
    /// Last month (inclusive).
    #[arg(long, value_name = "YYYY-MM", default_value = "2026-12")]
    to: String,
}

impl DataSetArgs {
    /// The generator's options, writing to `out` (unused by the simulator).
    fn options(&self, out: PathBuf) -> Result<crate::generate::Options, Error> {
        let month = |flag: &str, s: &str| {
            let m = crate::generate::parse_month(s)
                .ok_or_else(|| Error::Usage(format!("{flag} `{s}` is not a month like 2026-10")))?;
            // Date-times are held as nanoseconds since 1970, which end in 2262.
            if !(1970..=2199).contains(&m.0) {
                return Err(Error::Usage(format!(
                    "{flag} `{s}` is outside the years 1970 to 2199 that generated data may use"
                )));
            }
            Ok(m)
        };
        Ok(crate::generate::Options {
            actions: self.actions,
            seed: self.seed,
            from: month("--from", &self.from)?,
            to: month("--to", &self.to)?,
            out,
        })
    }
}

/// `--period` or `--from`/`--to`, shared by `report` and `sync`.
#[derive(Debug, clap::Args)]
struct PeriodArgs {
    /// A calendar month, e.g. 2026-10.
    #[arg(long, value_name = "YYYY-MM", conflicts_with_all = ["from", "to"])]
    period: Option<String>,
    /// Start of the period (included): 2026-10-01 or 2026-10-01T08:00.
    #[arg(long, value_name = "DATE", requires = "to")]
    from: Option<String>,
    /// End of the period (excluded).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
}

impl PeriodArgs {
    /// The period, where `--to` alone means everything before that date (`report
    /// unbilled`: the work in progress of every earlier month).
    fn resolve_open_start(&self, timezone: &str) -> Result<crate::period::Period, Error> {
        match (&self.period, &self.from, &self.to) {
            (None, None, Some(to)) => {
                let tz = crate::period::parse_zone(timezone)?;
                let end = crate::period::Period::range("1970-01-01", to, tz)?;
                Ok(crate::period::Period {
                    from_ns: i64::MIN,
                    label: format!("everything before {to}"),
                    ..end
                })
            }
            _ => self.resolve(timezone),
        }
    }

    /// The period, read in the IANA zone `timezone`.
    fn resolve(&self, timezone: &str) -> Result<crate::period::Period, Error> {
        Ok(crate::period::Period::from_args(
            self.period.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            timezone,
        )?)
    }
}

/// The `--store` option shared by commands that use the store.
#[derive(Debug, clap::Args)]
struct StoreArg {
    /// The store folder [default: $XDG_DATA_HOME/halo-billing/store, or
    /// ~/.local/share/halo-billing/store].
    #[arg(long, env = "HALO_BILLING_STORE", value_name = "DIR")]
    store: Option<PathBuf>,
}

impl StoreArg {
    fn path(&self) -> PathBuf {
        self.store.clone().unwrap_or_else(default_store)
    }

    /// The zone a command reads its period in: `flag` (`--timezone`) when given, else
    /// the store's reporting zone (`halo-billing timezone`, or its first close), else UTC.
    fn zone(&self, flag: Option<&str>) -> Result<String, Error> {
        if let Some(z) = flag {
            return Ok(z.to_string());
        }
        let path = self.path();
        if !path.is_dir() {
            return Ok("UTC".into());
        }
        Ok(crate::store::Settings::read(&path)?
            .timezone
            .unwrap_or_else(|| "UTC".into()))
    }

    /// Refuses an output path inside the store folder (`--out STORE/manifest.json` would
    /// replace the store's own file), before anything runs. `own` is a folder of the
    /// store the output may go in (the rejects folder), if any.
    fn refuse_inside(
        &self,
        out: Option<&Path>,
        flag: &str,
        own: Option<&str>,
    ) -> Result<(), Error> {
        let Some(out) = out else {
            return Ok(());
        };
        if crate::fsutil::is_special(out) {
            return Ok(());
        }
        let Ok(store) = std::fs::canonicalize(self.path()) else {
            return Ok(()); // no store yet: nothing of it to overwrite
        };
        let target = crate::fsutil::resolved(out);
        if target.starts_with(&store) && !own.is_some_and(|o| target.starts_with(store.join(o))) {
            return Err(Error::Usage(format!(
                "{flag} `{}` is inside the store `{}`, whose files are its own: write it elsewhere",
                out.display(),
                self.path().display()
            )));
        }
        Ok(())
    }

    /// The store folder, which must exist already (for commands that read a store or
    /// change one that was filled before: they create nothing).
    fn existing(&self) -> Result<PathBuf, Error> {
        let path = self.path();
        if path.is_dir() {
            Ok(path)
        } else {
            Err(Error::NoStore(path))
        }
    }
}

/// Opens the store at `root` for a writer that holds its lock, first recomputing its
/// content hashes if they are of another scheme (once; said on standard error).
fn open_migrated(
    root: &Path,
    progress: &crate::progress::Progress,
) -> Result<crate::store::Store, Error> {
    let store = crate::store::Store::open(root)?;
    match store.migrate(progress)? {
        None => Ok(store),
        Some(m) => {
            progress.note(&describe_migration(root, &m));
            Ok(crate::store::Store::open(root)?)
        }
    }
}

/// The line that reports a migration.
pub(crate) fn describe_migration(root: &Path, m: &crate::store::Migration) -> String {
    if m.checksummed > 0 {
        return format!(
            "store `{}` upgraded once: the checksums of {} file(s) recorded (files unchanged, each checked against its SHA-256 first), so every read verifies its file",
            root.display(),
            m.checksummed
        );
    }
    if m.time_unit {
        return format!(
            "store `{}` upgraded once to schema version {}: {} file(s) ({} row(s); rows, hashes and closes unchanged) rewritten with their date-times as UTC microseconds (the nanoseconds past them kept beside), so that Spark and every engine read them as UTC instants",
            root.display(),
            crate::store::SCHEMA_VERSION,
            m.files,
            m.rows
        );
    }
    if !m.rehashed {
        return format!(
            "store `{}` upgraded once: {} file(s) ({} action(s), rows unchanged) rewritten with the report summaries in their footers, so reports of whole months read those instead of every row",
            root.display(),
            m.files,
            m.rows
        );
    }
    format!(
        "store `{}` migrated to content hash scheme {}: {} file(s), {} action(s) rehashed; {} closed period(s) verified and sealed with their file's SHA-256",
        root.display(),
        crate::model::canon::HASH_SCHEME,
        m.files,
        m.rows,
        m.closes_sealed
    )
}

/// Writes to `out` atomically, or to standard output when `out` is `None`. A closed
/// pipe on standard output (`| head`) is not an error.
fn write_output(
    out: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    match out {
        Some(path) => {
            if path.is_dir() {
                return Err(Error::Usage(format!(
                    "--out `{}` is a folder; give a file name in it, e.g. `{}`",
                    path.display(),
                    path.join("report.csv").display()
                )));
            }
            // One rule for --out and --rejects: missing folders are created.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| Error::Output {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            crate::fsutil::write_atomic(path, |w| f(w)).map_err(|source| Error::Output {
                path: path.to_path_buf(),
                source,
            })
        }
        None => {
            let stdout = io::stdout();
            let mut w = io::BufWriter::new(stdout.lock());
            match f(&mut w).and_then(|_| w.flush()) {
                Ok(()) => Ok(()),
                Err(e) if is_broken_pipe(&e) => Ok(()),
                Err(source) => Err(Error::Output {
                    path: PathBuf::from("<stdout>"),
                    source,
                }),
            }
        }
    }
}

/// Whether `e` is a closed pipe (the reader, `head` say, has gone), also when a writer
/// in between (the CSV writer) wrapped it in an error of its own.
pub(crate) fn is_broken_pipe(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return true;
    }
    let mut inner: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(err) = inner {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return is_broken_pipe(io);
        }
        if let Some(csv::ErrorKind::Io(io)) = err.downcast_ref::<csv::Error>().map(|c| c.kind()) {
            return is_broken_pipe(io);
        }
        inner = err.source();
    }
    false
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    crate::threads::init(cli.threads).map_err(Error::Usage)?;
    let progress = crate::progress::Progress::new(cli.quiet);
    if matches!(
        cli.command,
        Command::Import(_) | Command::Sync(_) | Command::Demo(_)
    ) {
        crate::interrupt::install().map_err(|source| Error::Output {
            path: PathBuf::from("<signal handlers>"),
            source,
        })?;
    }
    match cli.command {
        Command::Import(a) => import::run(a, &progress),
        Command::Report(a) => report::run(a, &progress),
        Command::Query(a) => query::run(a, &progress),
        Command::Export(a) => export::run(a, &progress),
        Command::Exports(a) => exports::run(a, &progress),
        Command::Jobs(a) => jobs::run(a, &progress),
        Command::Generate(a) => generate::run(a, &progress),
        Command::Demo(a) => demo::run(a, &progress),
        Command::Sync(a) => sync::run(a, &progress),
        Command::Status(a) => status::run(a, &progress),
        Command::Timezone(a) => timezone::run(a, &progress),
        Command::Close(a) => close::close(a, &progress),
        Command::Reopen(a) => close::reopen(a, &progress),
        Command::Simulate(a) => simulate::run(a, &progress),
    }
}

/// Parses the process arguments, runs, prints any error with its causes, and returns
/// the exit code.
pub fn main() -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    // `sync --help` ends with where each setting currently comes from (never a value).
    // The config file the command line names, so that `sync --config F --help` describes F.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let named = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        match a.strip_prefix("--config=") {
            Some(v) => Some(PathBuf::from(v)),
            None if a == "--config" => args.get(i + 1).map(PathBuf::from),
            None => None,
        }
    });
    let command =
        Cli::command().mut_subcommand("sync", |c| c.after_help(sync::sources_help(named)));
    let cli = match command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(cli) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            // Work left out of a written export is not a failure: it asks for attention.
            let what = if e.code() == crate::error::EXIT_ATTENTION {
                "attention"
            } else {
                "error"
            };
            eprintln!("halo-billing: {what}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                // thiserror's `transparent` repeats the message; print only new causes.
                let text = s.to_string();
                if !e.to_string().contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                source = s.source();
            }
            e.code()
        }
    }
}
