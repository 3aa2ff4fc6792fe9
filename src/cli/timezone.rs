//! `halo-billing timezone`: the store's reporting time zone.

use super::StoreArg;
use crate::error::Error;
use crate::progress::Progress;
use crate::store::{Store, StoreLock};

/// Show or set the store's reporting time zone.
///
/// A store reports in one time zone: `report`, `query`, `close`, `export` and `jobs` read
/// `--period 2026-10` (and --from/--to) in it unless --timezone says otherwise, so a month
/// means the same instants in every command and a report never cuts a close. A store
/// takes the zone of its first close when none was set; set it before the first close
/// to choose. Changing it is refused while periods are closed in another zone (reopen
/// them first). `sync` always asks Halo in UTC, whatever the zone.
///
/// Examples:
///   halo-billing timezone                      # which zone, and since when
///   halo-billing timezone Europe/London        # set it
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The IANA zone to set, e.g. Europe/London, America/New_York, UTC.
    #[arg(value_name = "ZONE")]
    zone: Option<String>,
    #[command(flatten)]
    store: StoreArg,
}

/// Runs `timezone`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let root = args.store.existing()?;
    let Some(zone) = args.zone else {
        let s = crate::store::Settings::read(&root)?;
        let line = match (&s.timezone, &s.timezone_set) {
            (Some(z), Some(how)) => format!("{z} (set by {how})"),
            (Some(z), None) => z.clone(),
            (None, _) => "not set: periods are read in UTC; the first close sets it (or `halo-billing timezone ZONE`)".into(),
        };
        return super::write_output(None, |w| writeln!(w, "{line}"));
    };
    let tz = crate::period::parse_zone(&zone)?;
    let _lock = StoreLock::acquire(&root)?;
    let store = Store::open(&root)?;
    let other: Vec<String> = store
        .closed_periods()?
        .iter()
        .filter(|c| c.is_closed() && c.timezone != tz.name())
        .map(|c| format!("{} ({})", c.period, c.timezone))
        .collect();
    if !other.is_empty() {
        return Err(Error::Usage(format!(
            "periods are closed in another zone: {}; a store reports in one zone, so reopen them first \
             (halo-billing reopen --period P --timezone Z --reason ...) or keep the zone they were closed in",
            other.join(", ")
        )));
    }
    store.set_timezone(tz.name(), &format!("`halo-billing timezone {}`", tz.name()))?;
    progress.note(&format!(
        "the store's reporting time zone is now {}: reports, closes, exports and jobs read periods in it unless --timezone says otherwise",
        tz.name()
    ));
    Ok(())
}
