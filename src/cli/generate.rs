//! `halo-billing generate`: realistic test data in Halo's response shape.

use crate::error::Error;
use crate::generate;
use crate::progress::Progress;
use std::path::PathBuf;

/// Write deterministic, realistic time entries as Halo's API returns them.
///
/// Pages of at most 100 actions in the {"record_count", "actions"} wrapper, one folder per
/// month (OUT/2026-10/page-000001.json ...), with contracts, invoices, prepaid and
/// non-chargeable time in plausible proportions and the live API's value quirks
/// (float noise, -0.0, missing keys, -1 contract ids, mixed date forms, stale copies of
/// edited actions). The same options always write the same bytes.
///
/// Example:
///   halo-billing generate --actions 100000 --seed 7 --from 2026-01 --to 2026-12 --out data/
///   halo-billing import data/
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    data: super::DataSetArgs,
    /// Output folder; must be empty or not exist.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Runs `generate`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let opts = args.data.options(args.out.clone())?;
    if let Ok(mut entries) = std::fs::read_dir(&args.out)
        && entries.next().is_some()
    {
        return Err(Error::Usage(format!(
            "--out `{}` is not empty; generated pages must not mix with other files",
            args.out.display()
        )));
    }
    let s = generate::generate(&opts, progress)?;
    progress.note(&format!(
        "wrote {} actions (+{} stale copies) in {} pages, {} MB, to `{}`",
        s.actions,
        s.stale_copies,
        s.files,
        s.bytes / 1_000_000,
        args.out.display()
    ));
    Ok(())
}
