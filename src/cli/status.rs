//! `halo-billing status`: what the store holds.

use super::StoreArg;
use crate::error::Error;
use crate::progress::Progress;
use crate::store::Store;
use std::collections::BTreeMap;

/// Summarise the store: actions per month, sync windows, closed periods with their
/// hashes, leftovers of interrupted runs.
///
/// Reads only the manifest and the sync records; it takes no lock and can run while a
/// writer is busy (it shows the last committed state).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Also check every data file against the size and SHA-256 the manifest records
    /// (exit 1 on any difference).
    #[arg(long)]
    verify: bool,
}

/// One line of the status text.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Runs `status`: the text is built first and written at once, so that a closed pipe
/// (`status | head -1`) is not an error, and what was found is shown before a failed
/// verification's error.
pub fn run(args: Args, _progress: &Progress) -> Result<(), Error> {
    let mut out = String::new();
    let result = describe(&args, &mut out);
    super::write_output(None, |w| w.write_all(out.as_bytes()))?;
    result
}

fn describe(args: &Args, out: &mut String) -> Result<(), Error> {
    let root = args.store.existing()?;
    let store = Store::open(&root)?;
    let m = store.manifest();
    say!(out, "store      {}", root.display());
    if m.files.is_empty() {
        say!(
            out,
            "state      empty (run `halo-billing import` or `halo-billing sync`)"
        );
    } else {
        say!(
            out,
            "state      schema version {}, generation {}, committed {}",
            m.schema_version,
            m.generation,
            m.committed_at.as_deref().unwrap_or("-")
        );
        if !store.hashes_current() {
            say!(
                out,
                "hashes     of an earlier scheme: recomputed once by the next import, sync or close (nothing else changes)"
            );
        } else if m.summaries == 0 {
            say!(
                out,
                "summaries  none in the files' footers yet: reports read every row; the next import, sync or close rewrites the files once with them (rows unchanged)"
            );
        } else if m.summaries < crate::store::SUMMARIES {
            say!(
                out,
                "summaries  of an earlier release: reports without theirs (charge-rates) read every row; the next import, sync or close rewrites the files once with them (rows unchanged)"
            );
        }
    }
    let settings = store.settings()?;
    match (&settings.timezone, &settings.timezone_set) {
        (Some(z), Some(how)) => say!(out, "zone       {z}: periods are read in it (set by {how})"),
        (Some(z), None) => say!(out, "zone       {z}: periods are read in it"),
        (None, _) => say!(
            out,
            "zone       not set: periods are read in UTC until the first close or `halo-billing timezone ZONE`"
        ),
    }
    say!(out, "actions    {} in {} file(s)", m.rows(), m.files.len());
    let mut months: BTreeMap<(i32, u32), (u64, u64)> = BTreeMap::new();
    for f in &m.files {
        let e = months.entry(f.month()).or_default();
        e.0 += f.rows;
        e.1 += f.bytes;
    }
    for ((y, mo), (rows, bytes)) in &months {
        let label = if (*y, *mo) == (0, 0) {
            "undated".to_string()
        } else {
            format!("{y}-{mo:02}")
        };
        say!(out, "  {label:<9}{rows:>12} actions {bytes:>14} bytes");
    }
    let tomb: u64 = m.tombstones.iter().map(|f| f.rows).sum();
    say!(
        out,
        "deleted    {tomb} action(s) Halo stopped returning, kept as tombstones ({} file(s), excluded from reports)",
        m.tombstones.len()
    );
    let windows: BTreeMap<String, String> = std::fs::read(store.sync_state_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    match (
        windows.keys().next(),
        windows.keys().last(),
        windows.values().max(),
    ) {
        (Some(first), Some(last), Some(when)) => {
            let from = first.split("..").next().unwrap_or(first);
            let to = last.split("..").nth(1).unwrap_or(last);
            say!(
                out,
                "sync       {} window(s) committed covering {from} .. {to}; last sync {when}",
                windows.len()
            );
        }
        _ => say!(out, "sync       no windows synced"),
    }
    let pending = std::fs::read_dir(store.sync_pending_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    if pending > 0 {
        say!(
            out,
            "           {pending} window(s) fetched by an interrupted sync, waiting for the next run"
        );
    }
    let rejects = std::fs::read_dir(root.join("rejects"))
        .map(|d| d.count())
        .unwrap_or(0);
    say!(
        out,
        "rejects    {rejects} file(s) of refused records in {}",
        root.join("rejects").display()
    );
    let closed = store.closed_periods()?;
    if closed.is_empty() {
        say!(out, "closed     no periods closed");
    }
    for c in &closed {
        match (&c.reopened_at, &c.reopen_reason) {
            (None, _) => say!(
                out,
                "closed     {} ({}) since {}: {} actions, sha256 {}",
                c.period,
                c.timezone,
                c.closed_at,
                c.actions,
                c.sha256
            ),
            (Some(at), reason) => say!(
                out,
                "reopened   {} ({}) closed {} ({} actions, sha256 {}), reopened {at}: {}",
                c.period,
                c.timezone,
                c.closed_at,
                c.actions,
                c.sha256,
                reason.as_deref().unwrap_or("")
            ),
        }
    }
    if let Some(holder) = crate::store::StoreLock::holder(&root) {
        say!(out, "lock       held by {holder} (a writer is at work)");
    }
    if args.verify {
        let mut problems = store.verify();
        let closes = store.closed_periods()?;
        for c in closes.iter() {
            if let Err(e) = store.verify_close(c) {
                problems.push(e.to_string());
            }
        }
        if !problems.is_empty() {
            return Err(Error::Verify(format!(
                "store `{}` failed verification:\n  {}",
                root.display(),
                problems.join("\n  ")
            )));
        }
        say!(
            out,
            "verify     all {} file(s) match the manifest's sizes and SHA-256, and all {} frozen copies of closes match theirs",
            m.files.len() + m.tombstones.len(),
            closes.len()
        );
    }
    Ok(())
}
