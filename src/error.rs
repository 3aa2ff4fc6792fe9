//! The top-level error and the exit codes it maps to.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the run failed (unreadable input folder, store or output problem, API failure after retries, overflow) |
//! | 2 | the command line or the sync settings were wrong |
//! | 3 | some input records were refused (all valid ones were imported; see the rejects file); `--allow-rejects` makes this 0 |
//! | 4 | a sync held back deletions (mass-deletion guard): everything else was committed; `--accept-deletions` accepts them |
//! | 5 | `report --strict`, `export`: the figures depend on time the store does not cover (nothing was written; the gaps are named) |
//! | 6 | `export`: the files were written, but chargeable work is not on them (already exported, or without a contract; named); `jobs run`: a job's outcome is "attention" |
//! | 7 | `export --changed refuse`: exported work changed since it was exported (each action listed); nothing was written |
//! | 75 | another process is writing the store (named, with its command and start); nothing was done: run again later |
//! | 130, 143 | an import or sync stopped by Ctrl-C (SIGINT) or SIGTERM before its commit: nothing committed; a sync keeps its fetched windows to resume |

use std::path::PathBuf;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a failed run.
pub const EXIT_FAILED: i32 = 1;
/// Exit code for a wrong command line.
pub const EXIT_USAGE: i32 = 2;
/// Exit code when input records were refused.
pub const EXIT_REJECTS: i32 = 3;
/// Exit code when a sync held back deletions.
pub const EXIT_DELETIONS_HELD: i32 = 4;
/// Exit code when the figures depend on time the store does not cover.
pub const EXIT_INCOMPLETE: i32 = 5;
/// Exit code when an export was written but left chargeable work out (a job: attention).
pub const EXIT_ATTENTION: i32 = 6;
/// Exit code when an export refuses work that changed since it was exported.
pub const EXIT_CHANGED: i32 = 7;
/// Exit code when another process holds the store's writer lock (sysexits' EX_TEMPFAIL).
pub const EXIT_LOCKED: i32 = 75;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input discovery failed.
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A report could not be made.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A period or time zone was wrong.
    #[error(transparent)]
    Period(#[from] crate::period::PeriodError),
    /// Generating data failed.
    #[error(transparent)]
    Generate(#[from] crate::generate::GenerateError),
    /// Writing an output file failed.
    #[error("cannot write `{path}`: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// A file the run needs could not be read.
    #[error("cannot read `{path}`: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// A state file of the store is damaged.
    #[error("`{path}` is damaged: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A sync committed everything except deletions the guard held back.
    #[error(
        "{held} deletion(s) held back: {reason}; everything else was committed and the actions stay in the store. If Halo really deleted them, run the same sync again with --accept-deletions"
    )]
    DeletionsHeld {
        /// How many.
        held: u64,
        /// Why.
        reason: String,
    },
    /// A run stopped by Ctrl-C (SIGINT) or SIGTERM before its commit.
    #[error("interrupted by {signal}: {detail}")]
    Interrupted {
        /// Which signal.
        signal: &'static str,
        /// The exit code (130 for SIGINT, 143 for SIGTERM).
        code: i32,
        /// What was kept and how to resume.
        detail: String,
    },
    /// `report --strict` found parts of the period the store does not cover.
    #[error("{0}")]
    Incomplete(String),
    /// An export was written but left chargeable work out (said above it).
    #[error("{0}")]
    LeftOut(String),
    /// `export --changed refuse`: exported work changed since; nothing was written.
    #[error("{0}")]
    Changed(String),
    /// A command-line value that clap could not check.
    #[error("{0}")]
    Usage(String),
    /// `jobs run`: at least one job failed (each said why); the code is theirs when they
    /// agree, else 1.
    #[error("at least one job did not end ok (see its outcome above and its run manifest)")]
    JobsFailed(i32),
    /// Records were refused (the valid ones were kept).
    #[error("{count} input record(s) refused, each listed with its reason in `{}`; every other record is in the store. Fix those records and import them again; exit 3 tells a script some were refused (--allow-rejects: exit 0 when the rest were imported)", path.display())]
    Rejected {
        /// How many.
        count: usize,
        /// The rejects file.
        path: PathBuf,
    },
    /// Sync settings are missing or wrong.
    #[error(transparent)]
    Config(#[from] crate::ingest::halo::config::ConfigError),
    /// An HTTP request failed for good.
    #[error(transparent)]
    Http(#[from] crate::ingest::halo::client::HttpError),
    /// A window could not be fetched.
    #[error(transparent)]
    Fetch(#[from] crate::ingest::halo::fetch::FetchError),
    /// A sync stopped before all windows were fetched.
    #[error(
        "sync stopped: {cause}; the store is unchanged, and {kept} fetched window(s) are kept (STORE/sync/pending) so the next run will not fetch them again"
    )]
    SyncStopped {
        /// Why.
        cause: Box<Error>,
        /// Windows fetched and kept for the next run.
        kept: usize,
    },
    /// The simulator could not start.
    #[error(transparent)]
    Simulator(#[from] crate::simulate::SimError),
    /// A check found figures or files that disagree (`status --verify`: files that
    /// differ from the manifest; `export`: invoices that do not add up).
    #[error("{0}")]
    Verify(String),
    /// The store holds nothing to report on.
    #[error(
        "the store `{0}` holds no actions yet; fill it with `halo-billing sync --period YYYY-MM` (from Halo's API) \
         or `halo-billing import PATH` (saved API responses)"
    )]
    EmptyStore(PathBuf),
    /// The store folder does not exist.
    #[error(
        "there is no store at `{0}`; fill one with `halo-billing sync --period YYYY-MM` (from Halo's API) \
         or `halo-billing import PATH` (saved API responses), or point at an existing one with --store DIR \
         or HALO_BILLING_STORE (the demo's is halo-billing-demo/store)"
    )]
    NoStore(PathBuf),
}

impl Error {
    /// The process exit code for this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Period(_) | Error::Config(_) => EXIT_USAGE,
            // Adjustments asked of a period never closed: the argument is at fault.
            Error::Report(crate::report::ReportError::NotClosed(_)) => EXIT_USAGE,
            Error::Rejected { .. } => EXIT_REJECTS,
            Error::DeletionsHeld { .. } => EXIT_DELETIONS_HELD,
            Error::Interrupted { code, .. } => *code,
            Error::Incomplete(_) => EXIT_INCOMPLETE,
            Error::LeftOut(_) => EXIT_ATTENTION,
            Error::Changed(_) => EXIT_CHANGED,
            Error::JobsFailed(code) => *code,
            Error::Store(crate::store::StoreError::Locked { .. }) => EXIT_LOCKED,
            _ => EXIT_FAILED,
        }
    }
}
