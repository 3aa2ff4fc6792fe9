//! The one selection step every report shares: which files (live partitions or closed
//! periods' frozen copies) and which UTC range of each make up a period, and reading the
//! columns a report needs from them, rows outside the range left out.
//!
//! Closed periods hold for every way of asking (see [`super::contracts::build`]): a period equal to
//! a close reads its frozen copy; closes inside the period contribute their copies and
//! the live store the rest; a period cutting through a close is refused.

use super::error::ReportError;
use crate::fold::base::datetimes;
use crate::frame::col;
use crate::period::Period;
use crate::store::{ClosedPeriod, FileEntry, Store, month_bounds};
use polars::prelude::*;

/// One file and the UTC range `[from_ns, to_ns)` of its rows that belong to the period.
#[derive(Debug, Clone)]
pub struct Part {
    /// The file (a partition, or a frozen copy).
    pub file: FileEntry,
    /// Start (UTC nanoseconds).
    pub from_ns: i64,
    /// End (excluded).
    pub to_ns: i64,
}

/// The parts of `period`, and the closes whose frozen copies they use.
pub fn parts(
    store: &Store,
    period: &Period,
) -> Result<(Vec<Part>, Vec<ClosedPeriod>), ReportError> {
    let closes = store.closes_overlapping(period.from_ns, period.to_ns)?;
    if let Some(c) = closes
        .iter()
        .find(|c| c.from_ns < period.from_ns || c.to_ns > period.to_ns)
    {
        let zone = store.timezone().ok().flatten();
        return Err(ReportError::CutsClosed(cut_message(
            period,
            c,
            zone.as_deref(),
        )));
    }
    let mut out = Vec::new();
    let mut from = period.from_ns;
    let mut live: Vec<(i64, i64)> = Vec::new();
    for c in &closes {
        store.verify_close(c)?;
        live.push((from, c.from_ns));
        from = c.to_ns;
        out.push(Part {
            file: c.entry(c.actions),
            from_ns: c.from_ns,
            to_ns: c.to_ns,
        });
    }
    live.push((from, period.to_ns));
    for (f, t) in live.into_iter().filter(|(f, t)| f < t) {
        for file in store.files_overlapping(f, t) {
            out.push(Part {
                file: file.clone(),
                from_ns: f,
                to_ns: t,
            });
        }
    }
    Ok((out, closes))
}

/// Reads `columns` (and `datetime`) of every part, keeping the rows in its range, and
/// hands each frame to `f`. Files are decoded on [`crate::threads::readers`] threads (as
/// the contracts report does) while `f` runs on this one, in no particular file order;
/// at most two decoded files wait at a time, which bounds memory.
pub fn for_each_frame(
    store: &Store,
    parts: &[Part],
    columns: &[&str],
    mut f: impl FnMut(&DataFrame) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let mut cols: Vec<&str> = columns.to_vec();
    if !cols.contains(&col::DATETIME) {
        cols.push(col::DATETIME);
    }
    let readers = crate::threads::readers(parts.len());
    std::thread::scope(|s| -> Result<(), ReportError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<DataFrame, ReportError>>(2);
        for r in 0..readers {
            let tx = tx.clone();
            let cols = &cols;
            s.spawn(move || {
                for p in parts.iter().skip(r).step_by(readers) {
                    if tx.send(read_part(store, p, cols)).is_err() {
                        return; // the consumer stopped on an error
                    }
                }
            });
        }
        drop(tx);
        for frame in rx {
            f(&frame?)?;
        }
        Ok(())
    })
}

/// Folds every part's frame into one state per reader thread, on the reader threads
/// themselves (so the per-row work runs in parallel too), and returns the states for the
/// caller to merge. Each thread holds one decoded file at a time.
pub fn fold_frames<S: Default + Send>(
    store: &Store,
    parts: &[Part],
    columns: &[&str],
    fold: impl Fn(&mut S, &DataFrame) -> Result<(), ReportError> + Sync,
) -> Result<Vec<S>, ReportError> {
    fold_parts(store, parts, columns, |_: &mut S, _: &Part| Ok(false), fold)
}

/// The parts' rows (each in its range), `columns` only, as one lazy scan for polars to
/// push projections and predicates into: one scan of the whole months' files, and one
/// per cut month filtered to its range.
pub fn scan_parts(
    store: &Store,
    parts: &[Part],
    columns: &[&str],
) -> Result<LazyFrame, ReportError> {
    let bad = |source| ReportError::column("actions", source);
    let names: Vec<Expr> = columns.iter().map(|n| polars::prelude::col(*n)).collect();
    let mut scans = Vec::new();
    let (whole_parts, cut): (Vec<&Part>, Vec<&Part>) = parts.iter().partition(|p| whole(p));
    if !whole_parts.is_empty() {
        let files: Vec<FileEntry> = whole_parts.iter().map(|p| p.file.clone()).collect();
        scans.push(store.scan_files(&files)?.select(names.clone()));
    }
    for p in cut {
        scans.push(
            store
                .scan_range(&p.file, p.from_ns, p.to_ns)?
                .select(names.clone()),
        );
    }
    if scans.is_empty() {
        return DataFrame::empty_with_schema(&crate::frame::schema())
            .select(columns.iter().copied())
            .map(IntoLazy::lazy)
            .map_err(bad);
    }
    concat(scans, UnionArgs::default()).map_err(bad)
}

/// The parts' rows for which `predicate` holds, `columns` (and `datetime`) only, read
/// in one streaming pass: polars decodes the predicate's columns first and the others
/// only for the rows kept, a few files at a time.
pub fn frame_where(
    store: &Store,
    parts: &[Part],
    columns: &[&str],
    predicate: Expr,
) -> Result<DataFrame, ReportError> {
    let mut cols: Vec<&str> = columns.to_vec();
    if !cols.contains(&col::DATETIME) {
        cols.push(col::DATETIME);
    }
    scan_parts(store, parts, &cols)?
        .filter(predicate)
        .collect_with_engine(Engine::Streaming)
        // One plan, one sink: a single table.
        .map(|r| r.unwrap_single())
        .map_err(|source| ReportError::column("actions", source))
}

/// [`fold_frames`] where a part may be taken from its file's footer instead:
/// `from_footer` adds the part to the state and says `true` when the file's footer holds
/// what the fold needs (see [`super::footers`]), or says `false`, and the part's rows are
/// read and folded.
pub fn fold_parts<S: Default + Send>(
    store: &Store,
    parts: &[Part],
    columns: &[&str],
    from_footer: impl Fn(&mut S, &Part) -> Result<bool, ReportError> + Sync,
    fold: impl Fn(&mut S, &DataFrame) -> Result<(), ReportError> + Sync,
) -> Result<Vec<S>, ReportError> {
    let mut cols: Vec<&str> = columns.to_vec();
    if !cols.contains(&col::DATETIME) {
        cols.push(col::DATETIME);
    }
    let readers = crate::threads::readers(parts.len());
    let (cols, fold, from_footer) = (&cols, &fold, &from_footer);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..readers)
            .map(|r| {
                s.spawn(move || -> Result<S, ReportError> {
                    let mut state = S::default();
                    for p in parts.iter().skip(r).step_by(readers) {
                        if !from_footer(&mut state, p)? {
                            fold(&mut state, &read_part(store, p, cols)?)?;
                        }
                    }
                    Ok(state)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a reader thread panicked"))
            .collect()
    })
}

/// [`fold_frames`] of one contract's rows (`None`: actions without a contract), read
/// from where each file's contract index ([`crate::store::index`]) says they lie: only
/// the Parquet pages holding them are decoded, and a file without any is not read past
/// its footer. Parts whose file has no index (written before it) are returned for the
/// caller to read another way.
pub fn fold_contract<S: Default + Send>(
    store: &Store,
    parts: &[Part],
    columns: &[&str],
    contract: Option<i64>,
    fold: impl Fn(&mut S, &DataFrame) -> Result<(), ReportError> + Sync,
) -> Result<(Vec<S>, Vec<Part>), ReportError> {
    let mut cols: Vec<&str> = columns.to_vec();
    if !cols.contains(&col::DATETIME) {
        cols.push(col::DATETIME);
    }
    let readers = crate::threads::readers(parts.len());
    let (cols, fold) = (&cols, &fold);
    let done: Vec<(S, Vec<Part>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..readers)
            .map(|r| {
                s.spawn(move || -> Result<(S, Vec<Part>), ReportError> {
                    let mut state = S::default();
                    let mut unindexed = Vec::new();
                    for p in parts.iter().skip(r).step_by(readers) {
                        match store.read_contract_rows(&p.file, cols, contract)? {
                            None => unindexed.push(p.clone()),
                            Some(None) => {}
                            Some(Some(df)) => fold(&mut state, &in_range(p, df)?)?,
                        }
                    }
                    Ok((state, unindexed))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a reader thread panicked"))
            .collect::<Result<_, _>>()
    })?;
    let mut states = Vec::with_capacity(done.len());
    let mut unindexed = Vec::new();
    for (state, rest) in done {
        states.push(state);
        unindexed.extend(rest);
    }
    Ok((states, unindexed))
}

/// Whether a part takes every row of its file: a partition file whose whole month lies
/// in the part's range (its footer's summaries then apply as they are).
pub fn whole(p: &Part) -> bool {
    let (mf, mt) = month_bounds(p.file.month());
    p.file.month() != (0, 0) && p.from_ns <= mf && mt <= p.to_ns
}

/// One part's frame: its rows in the part's range.
fn read_part(store: &Store, p: &Part, cols: &[&str]) -> Result<DataFrame, ReportError> {
    in_range(p, store.read_slice(&p.file, cols, 0, p.file.rows as usize)?)
}

/// The rows of `df` (read from `p`'s file) in `p`'s range.
fn in_range(p: &Part, df: DataFrame) -> Result<DataFrame, ReportError> {
    if whole(p) {
        return Ok(df);
    }
    let dt = datetimes(&df)?;
    let keep: Vec<IdxSize> = dt
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_some_and(|t| t >= p.from_ns && t < p.to_ns))
        .map(|(i, _)| i as IdxSize)
        .collect();
    df.take(&IdxCa::from_vec("".into(), keep))
        .map_err(|source| ReportError::column(col::DATETIME, source))
}

/// Says how to ask for a range that cuts through closed period `c`: in the close's zone
/// when the range was asked for in another (the store's zone named), else whole, around
/// it or after a reopen.
fn cut_message(
    period: &Period,
    c: &crate::store::ClosedPeriod,
    store_zone: Option<&str>,
) -> String {
    let t = crate::model::datetime::format_datetime;
    let asked = period.timezone.name();
    let head = format!(
        "the range {} ({asked}) cuts through closed period {} ({}, {} .. {}), whose figures are frozen",
        period.label,
        c.period,
        c.timezone,
        t(c.from_ns),
        t(c.to_ns)
    );
    let reopen = format!(
        "reopen it first (halo-billing reopen --period {} --timezone {} --reason ...)",
        c.period, c.timezone
    );
    if asked != c.timezone {
        let range = match period.label.split_once("..") {
            Some((from, to)) => format!("--from {from} --to {to}"),
            None => format!("--period {}", period.label),
        };
        let whose = match store_zone {
            Some(z) if z == c.timezone => {
                " (the store's zone: leaving out --timezone does the same)"
            }
            _ => "",
        };
        return format!(
            "{head}. It was closed in {}, and this range was asked for in {asked}: ask in {} instead, \
             `{range} --timezone {}`{whose}; or {reopen}",
            c.timezone, c.timezone, c.timezone
        );
    }
    format!(
        "{head}; ask for that period whole (--period {} --timezone {}) or for a range that contains it or avoids it, \
         or {reopen}",
        c.period, c.timezone
    )
}
