//! `halo-billing exports`: the export register.

use super::{StoreArg, write_output};
use crate::error::Error;
use crate::exact;
use crate::progress::Progress;
use crate::store::register::ExportRecord;
use crate::store::{Store, StoreLock};

/// List the export register: every accounting export that issued documents.
///
/// Each export is recorded when it is written (see `export --help`): its format, period
/// and zone, when, its documents (invoices, credit notes, DATEV bookings) with their
/// totals, the actions on it, and each file it wrote with its path and SHA-256 (a copy
/// of each file stays in the store). Work on an export counts as exported: the next
/// export leaves it out and corrects it where it changed.
///
/// An export that never reached the accounting system (the file was not imported) is
/// withdrawn explicitly, with a reason that is recorded: its work counts as not exported
/// again and its document numbers are free again. Nothing is ever withdrawn implicitly.
///
/// Examples:
///   halo-billing exports
///   halo-billing exports show 3
///   halo-billing exports withdraw 3 --reason "file never imported into Xero"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    store: StoreArg,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// One export whole: its documents, files and state.
    Show {
        /// The export's number (from `halo-billing exports`).
        seq: u32,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Withdraw an export: its work counts as not exported again.
    Withdraw {
        /// The export's number.
        seq: u32,
        /// Why (recorded), e.g. "file never imported".
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

fn state(e: &ExportRecord) -> String {
    match &e.withdrawn {
        None => "active".into(),
        Some(w) => format!("withdrawn {} ({})", w.at, w.reason),
    }
}

/// Runs `exports`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    match args.action {
        None => list(&args.store),
        Some(Action::Show { seq, store }) => show(&pick(&args.store, &store), seq),
        Some(Action::Withdraw { seq, reason, store }) => {
            if reason.trim().is_empty() {
                return Err(Error::Usage(
                    "--reason must say why the export is withdrawn".into(),
                ));
            }
            let store_arg = pick(&args.store, &store);
            let root = store_arg.existing()?;
            let _lock = StoreLock::acquire(&root)?;
            let e = Store::open(&root)?.withdraw_export(seq, &reason)?;
            progress.note(&format!(
                "export {seq} ({} {}, {} document(s), {}) withdrawn: its work counts as not exported again, and its document numbers are free",
                e.kind,
                e.period,
                e.documents.len(),
                exact::format_money(e.total_cents)
            ));
            Ok(())
        }
    }
}

/// `--store` given after the subcommand wins over one given before it.
fn pick(outer: &StoreArg, inner: &StoreArg) -> StoreArg {
    StoreArg {
        store: inner.store.clone().or_else(|| outer.store.clone()),
    }
}

fn list(store_arg: &StoreArg) -> Result<(), Error> {
    let root = store_arg.existing()?;
    let reg = Store::open(&root)?.register()?;
    write_output(None, |w| {
        if reg.exports.is_empty() {
            return writeln!(w, "no exports recorded yet (`halo-billing export --help`)");
        }
        writeln!(
            w,
            "{:>4}  {:<20}  {:<10}  {:<30}  {:>9}  {:>7}  {:>14}  state",
            "#", "written", "format", "period (zone)", "documents", "actions", "total"
        )?;
        for e in &reg.exports {
            writeln!(
                w,
                "{:>4}  {:<20}  {:<10}  {:<30}  {:>9}  {:>7}  {:>14}  {}",
                e.seq,
                e.at,
                e.kind,
                format!("{} ({})", e.period, e.timezone),
                e.documents.len(),
                e.actions,
                exact::format_money(e.total_cents),
                state(e)
            )?;
            for f in &e.files {
                writeln!(w, "      {}  sha256 {}", f.path, f.sha256)?;
            }
        }
        Ok(())
    })
}

fn show(store_arg: &StoreArg, seq: u32) -> Result<(), Error> {
    let root = store_arg.existing()?;
    let reg = Store::open(&root)?.register()?;
    let Some(e) = reg.exports.iter().find(|e| e.seq == seq) else {
        return Err(Error::Usage(format!(
            "the register has no export {seq} (`halo-billing exports` lists them)"
        )));
    };
    write_output(None, |w| {
        writeln!(w, "export     {} ({})", e.seq, state(e))?;
        writeln!(w, "format     {}", e.kind)?;
        writeln!(
            w,
            "period     {} ({}), {} .. {}",
            e.period,
            e.timezone,
            crate::model::datetime::format_datetime(e.from_ns),
            crate::model::datetime::format_datetime(e.to_ns)
        )?;
        writeln!(
            w,
            "written    {} from store generation {}",
            e.at, e.store_generation
        )?;
        writeln!(w, "mapping    {} (sha256 {})", e.mapping, e.mapping_sha256)?;
        writeln!(
            w,
            "work       {} action(s), {} in all",
            e.actions,
            exact::format_money(e.total_cents)
        )?;
        for f in &e.files {
            writeln!(
                w,
                "file       {} ({} bytes, sha256 {})",
                f.path, f.bytes, f.sha256
            )?;
            writeln!(
                w,
                "           copy: {}",
                root.join(crate::store::register::REGISTER_DIR)
                    .join(format!("{:04}", e.seq))
                    .join("files")
                    .join(&f.name)
                    .display()
            )?;
        }
        writeln!(w, "documents")?;
        for d in &e.documents {
            writeln!(
                w,
                "  {:<28} {:<12} {:>14}  {}  {}{}",
                d.number,
                d.document,
                exact::format_money(d.total_cents),
                d.date,
                d.customer,
                d.corrects
                    .as_ref()
                    .map(|c| format!(" (corrects {c})"))
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    })
}
