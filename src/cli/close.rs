//! `halo-billing close` and `reopen`: freeze a period's actions, or unfreeze them.

use super::StoreArg;
use crate::error::Error;
use crate::period::Period;
use crate::progress::Progress;
use crate::store::{Store, StoreLock};

/// Close a period: freeze its exact actions so that its reports never change.
///
/// Records the period's actions (a frozen copy in STORE/closed/) with a SHA-256 content
/// hash, shown by `status`. Reports of the period (same --period and --timezone) are
/// then computed from the frozen copy, byte-identical whatever is synced later; what
/// changes in Halo afterwards appears in `report adjustments`.
///
/// A period is closed in the store's reporting time zone (`halo-billing timezone`); a
/// store without one takes the zone of its first close (--timezone, else UTC), so that
/// reports, exports and jobs read months as the closes do. A close in another zone than
/// the store's is refused.
///
/// Examples:
///   halo-billing close --period 2026-10
///   halo-billing close --period 2026-10 --timezone Europe/London   # a store's first close
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CloseArgs {
    /// The month to close, e.g. 2026-10.
    #[arg(long, value_name = "YYYY-MM")]
    period: String,
    /// IANA time zone the period is read in, e.g. Europe/London [default: the store's
    /// zone (see `halo-billing timezone`), else UTC].
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    #[command(flatten)]
    store: StoreArg,
}

/// Reopen a closed period, with a reason that is recorded.
///
/// Its reports are computed from the live store again. The close stays in the history
/// shown by `status`, with the reopening time and reason.
#[derive(Debug, clap::Args)]
pub struct ReopenArgs {
    /// The closed month, e.g. 2026-10.
    #[arg(long, value_name = "YYYY-MM")]
    period: String,
    /// IANA time zone the period is read in, e.g. Europe/London [default: the store's
    /// zone (see `halo-billing timezone`), else UTC].
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    /// Why (recorded).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    store: StoreArg,
}

/// Runs `close`.
pub fn close(args: CloseArgs, progress: &Progress) -> Result<(), Error> {
    let root = args.store.existing()?;
    let zone = args.store.zone(args.timezone.as_deref())?;
    let period = Period::from_args(Some(&args.period), None, None, &zone)?;
    let _lock = StoreLock::acquire(&root)?;
    let store = super::open_migrated(&root, progress)?;
    if store.manifest().files.is_empty() {
        return Err(Error::EmptyStore(root));
    }
    let store_zone = store.timezone()?;
    if let Some(z) = &store_zone
        && z != period.timezone.name()
    {
        return Err(Error::Usage(format!(
            "this store reports in {z} (its zone, see `halo-billing timezone`): close {} in it \
             (`halo-billing close --period {}`), or change the store's zone first \
             (`halo-billing timezone {}`, refused while periods are closed in {z})",
            args.period,
            args.period,
            period.timezone.name()
        )));
    }
    let c = store.close_period(
        &period.label,
        period.timezone.name(),
        period.from_ns,
        period.to_ns,
    )?;
    progress.note(&format!(
        "closed {} ({}): {} actions, sha256 {}",
        c.period, c.timezone, c.actions, c.sha256
    ));
    if store_zone.is_none() {
        store.set_timezone(&c.timezone, &format!("its first close, {}", c.period))?;
        progress.note(&format!(
            "the store's reporting time zone is now {} (set by its first close): reports, exports and jobs read periods in it unless told otherwise",
            c.timezone
        ));
    }
    Ok(())
}

/// Runs `reopen`.
pub fn reopen(args: ReopenArgs, progress: &Progress) -> Result<(), Error> {
    let zone = args.store.zone(args.timezone.as_deref())?;
    let period = Period::from_args(Some(&args.period), None, None, &zone)?;
    if args.reason.trim().is_empty() {
        return Err(Error::Usage(
            "--reason must say why the period is reopened".into(),
        ));
    }
    let root = args.store.existing()?;
    let _lock = StoreLock::acquire(&root)?;
    let store = Store::open(&root)?;
    let c = store.reopen_period(&period.label, period.timezone.name(), &args.reason)?;
    progress.note(&format!(
        "reopened {} ({}), closed since {}: {}",
        c.period, c.timezone, c.closed_at, args.reason
    ));
    Ok(())
}
