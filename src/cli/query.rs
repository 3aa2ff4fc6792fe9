//! `halo-billing query`: SQL over the store.

use super::StoreArg;
use crate::error::Error;
use crate::progress::Progress;
use crate::report::catalog::{self, Request};
use crate::report::render::{Format, Options};
use crate::report::sql::QueryError;
use crate::store::Store;
use std::path::PathBuf;

/// Run SQL over the period's actions (polars' SQL dialect).
///
/// The table `actions` holds every stored column of the actions whose datetime falls in
/// the period (closed periods from their frozen copies): Halo's field names, with figures
/// as integers in their units: `timetaken_ms`, `actionchargeamount_cents`, `mileage_e4`
/// and so on. Keep figures in those columns through SQL (SUM of an integer is exact;
/// `/` and AVG give floating point). Result columns named *_cents, *_ms and *_e4 are
/// shown as exact decimals (money 2, hours 4, mileage 4 decimals) and renamed *_amount,
/// *_hours and plain; --raw keeps the integers. Floating-point results are written at
/// full precision in every format. --to alone means every action before that date.
///
/// The result is a report like any other: the same CSV, JSON (reports/README.md), table
/// and HTML, with the period's coverage.
///
/// Examples:
///   halo-billing query --period 2026-10 "SELECT action_contract_id, SUM(actionchargeamount_cents) AS charged_cents FROM actions GROUP BY 1 ORDER BY 1"
///   halo-billing query --period 2026-10 queries/unbilled.sql --format table
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The SQL, or a file holding it (a path ending in .sql).
    #[arg(value_name = "SQL|FILE")]
    sql: String,
    #[command(flatten)]
    period: super::PeriodArgs,
    /// IANA time zone the period is read in, e.g. Europe/London [default: the store's
    /// zone (see `halo-billing timezone`), else UTC].
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Keep *_cents, *_ms and *_e4 columns as integers.
    #[arg(long)]
    raw: bool,
    /// Table: every column, whole, however wide (else fitted to the terminal).
    #[arg(long)]
    wide: bool,
    #[command(flatten)]
    store: StoreArg,
}

/// Runs `query`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let period = args
        .period
        .resolve_open_start(&args.store.zone(args.timezone.as_deref())?)?;
    let sql = if args.sql.trim_end().ends_with(".sql") {
        std::fs::read_to_string(&args.sql).map_err(|source| Error::Input {
            path: PathBuf::from(&args.sql),
            source,
        })?
    } else {
        args.sql.clone()
    };
    let root = args.store.existing()?;
    args.store
        .refuse_inside(args.out.as_deref(), "--out", None)?;
    let store = Store::open(&root)?;
    let req = Request {
        raw: args.raw,
        ..Request::new(&period)
    };
    let sheet = catalog::query(&store, &req, &sql).map_err(|e| match e {
        QueryError::Report(r) => Error::Report(r),
        other => Error::Usage(other.to_string()),
    })?;
    let layout = Options {
        width: super::report::terminal_width(),
        wide: args.wide,
        ..Options::default()
    };
    super::report::deliver(
        &sheet,
        args.format,
        &layout,
        args.out.as_deref(),
        false,
        progress,
    )
}
