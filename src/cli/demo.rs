//! `halo-billing demo`: the whole job on built-in data, no configuration, no network.

use super::write_output;
use crate::error::Error;
use crate::generate::{self, Options};
use crate::period::Period;
use crate::progress::Progress;
use crate::report::{self, ReportKind, format::Format};
use crate::store::Store;
use std::path::PathBuf;

/// Run the month-end job on built-in demo data: no credentials, no network.
///
/// Generates a year of realistic Halo time entries, imports them into a demo store,
/// prints the contracts and invoices reports for one month as tables with totals, and
/// writes both as CSV to OUT (./halo-billing-demo/ by default).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo's data, store and CSV reports.
    #[arg(long, value_name = "DIR", default_value = "halo-billing-demo")]
    out: PathBuf,
    /// Actions to generate.
    #[arg(long, default_value_t = 20_000)]
    actions: u64,
    /// The month to report.
    #[arg(long, value_name = "YYYY-MM", default_value = "2026-10")]
    period: String,
}

/// Runs `demo`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let period = Period::month(&args.period, chrono_tz::UTC)?;
    let data = args.out.join("halo-responses");
    let store_path = args.out.join("store");
    // Start clean so that the demo always shows the same figures.
    for dir in [&data, &store_path] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|source| Error::Output {
                path: dir.clone(),
                source,
            })?;
        }
    }
    let from = generate::parse_month(&args.period)
        .map(|(y, _)| (y, 1))
        .unwrap_or((2026, 1));
    let opts = Options {
        actions: args.actions,
        seed: 2026,
        from,
        to: (from.0, 12),
        out: data.clone(),
    };
    generate::generate(&opts, progress)?;
    let (stats, rejects, _, _) =
        super::import::import_paths(std::slice::from_ref(&data), &store_path, None, progress)?;
    progress.note(&format!(
        "demo store `{}` holds {} actions ({} refused)",
        store_path.display(),
        stats.stored_after,
        rejects.len()
    ));
    let store = Store::open(&store_path)?;
    for (kind, name) in [
        (ReportKind::Contracts, "contracts"),
        (ReportKind::Invoices, "invoices"),
    ] {
        let rep = report::build(&store, kind, &period)?;
        write_output(None, |w| {
            report::format::write(&rep, Format::Table, w)?;
            writeln!(w)
        })?;
        let csv = args.out.join(format!("{name}-{}.csv", args.period));
        write_output(Some(&csv), |w| report::format::write(&rep, Format::Csv, w))?;
        println!("wrote {}", csv.display());
        println!();
    }
    Ok(())
}
