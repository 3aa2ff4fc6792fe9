//! Reports: the period's totals per contract or per invoice, from the store.
//!
//! Reads only the columns it needs from the partitions that overlap the period, hands
//! plain slices to [`crate::aggregate`], and orders the groups. Formatting lives in
//! [`format`]; no figure is rounded here.

pub mod adjust;
pub mod billed;
pub mod defs;
pub mod format;
pub mod html;
pub mod pack;
pub mod prepay;
pub mod rates;
pub mod safe;
pub mod select;
pub mod sheet;
pub mod sql;
pub mod totals;

use crate::aggregate::{Overflow, Totals};
use crate::frame::col;
use crate::period::Period;
use crate::store::{Store, StoreError};
use polars::prelude::*;
use totals::Groups;

/// Which grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// One row per contract (`action_contract_id`, `action_contract_ref`).
    Contracts,
    /// One row per invoice (`actioninvoicenumber`, `invoice_id`); unbilled work is the
    /// row with an empty invoice number.
    Invoices,
}

/// One report row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Contract id or invoice id (`None` = none).
    pub id: Option<i64>,
    /// Contract reference or invoice number.
    pub text: Option<String>,
    /// The group's totals.
    pub totals: Totals,
}

/// A finished report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which grouping.
    pub kind: ReportKind,
    /// The period reported.
    pub period: Period,
    /// Rows in key order.
    pub rows: Vec<Row>,
    /// Sum of all rows.
    pub total: Totals,
    /// Actions in the store with no usable datetime (in no period).
    pub undated: u64,
    /// Keys whose actions disagree on the other column (see [`merge_by_primary_key`]).
    pub conflicts: Vec<String>,
    /// The closes whose frozen copies the figures come from (a closed period asked for
    /// as itself, or closed periods inside the range).
    pub closed: Vec<crate::store::ClosedPeriod>,
    /// The parts of the period the store does not cover (no committed sync window, no
    /// import's date range, no close): empty when it covers the whole period.
    pub gaps: Vec<(i64, i64)>,
}

/// A report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A column could not be used.
    #[error("store column `{column}`: {source}")]
    Column {
        /// Column name.
        column: &'static str,
        /// polars' error.
        source: PolarsError,
    },
    /// A total overflowed.
    #[error(transparent)]
    Overflow(#[from] Overflow),
    /// The range cuts through a closed period.
    #[error("{0}")]
    CutsClosed(String),
    /// An input file of a report (e.g. prepay balances) is wrong.
    #[error("{0}")]
    Input(String),
}

/// Sums one part. A part that is its file's whole month ([`select::whole`]) is summed
/// from the totals in the file's footer when it has them ([`totals`]), else from the
/// columns needed; the datetime column is read only for a part that cuts its month.
fn part_groups(store: &Store, p: &select::Part, kind: ReportKind) -> Result<Groups, ReportError> {
    let whole = select::whole(p);
    if whole && let Some(groups) = totals::read(store, &p.file, kind)? {
        return Ok(groups);
    }
    let (id_col, text_col) = totals::columns(kind);
    let mut columns = vec![id_col, text_col];
    columns.extend(col::MEASURES);
    if !whole {
        columns.push(col::DATETIME);
    }
    let df = store.read_slice(&p.file, &columns, 0, p.file.rows as usize)?;
    totals::slice_groups(&df, kind, whole, p.from_ns, p.to_ns)
}

/// Builds a report for `period` from `store`.
///
/// Files (at most [`crate::store::FILE_ROWS`] rows each) are summed one at a time on
/// as many reader threads as [`crate::threads::count`] (polars decodes each file on its
/// own pool, of the same size), so memory holds about that many files' worth of the
/// needed columns, whatever the period.
///
/// Closed periods hold for every way of asking: a range equal to a closed period's is
/// reported from its frozen copy (byte for byte the closed report, whatever its label);
/// closed periods wholly inside the range contribute their frozen copies and the live
/// store the rest; a range that cuts through a closed period is refused with a message
/// saying how to ask. A frozen copy is verified against its SHA-256 before it is used.
pub fn build(store: &Store, kind: ReportKind, period: &Period) -> Result<Report, ReportError> {
    // The one selection step (closes honoured, frozen copies verified).
    let (parts, closes) = select::parts(store, period)?;
    let groups = sum_parts(store, &parts, kind)?;
    match closes.as_slice() {
        // A closed period asked for as itself reads as the close: its label and zone.
        [c] if (c.from_ns, c.to_ns) == (period.from_ns, period.to_ns) => {
            let shown = Period {
                label: c.period.clone(),
                timezone: c.timezone.parse().unwrap_or(period.timezone),
                ..period.clone()
            };
            let undated = c.undated_at_close;
            finish(kind, shown, groups, undated, closes)
        }
        _ => finish(kind, period.clone(), groups, store.undated_rows(), closes),
    }
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

fn merge_groups(into: &mut Groups, more: Groups) -> Result<(), ReportError> {
    for (k, v) in more {
        into.entry(k).or_default().merge(&v)?;
    }
    Ok(())
}

/// Sums the parts (each file over its own range) on [`crate::threads::readers`] threads.
fn sum_parts(
    store: &Store,
    parts: &[select::Part],
    kind: ReportKind,
) -> Result<Groups, ReportError> {
    let readers = crate::threads::readers(parts.len());
    let partials: Vec<Result<Groups, ReportError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..readers)
            .map(|r| {
                let mine: Vec<&select::Part> = parts.iter().skip(r).step_by(readers).collect();
                s.spawn(move || {
                    let mut acc = Groups::default();
                    for p in mine {
                        merge_groups(&mut acc, part_groups(store, p, kind)?)?;
                    }
                    Ok(acc)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("report reader thread"))
            .collect()
    });
    let mut groups = Groups::default();
    for p in partials {
        merge_groups(&mut groups, p?)?;
    }
    Ok(groups)
}

fn finish(
    kind: ReportKind,
    period: Period,
    groups: Groups,
    undated: u64,
    closed: Vec<crate::store::ClosedPeriod>,
) -> Result<Report, ReportError> {
    let mut total = Totals::default();
    for t in groups.values() {
        total.merge(t)?;
    }
    let (rows, conflicts) = merge_by_primary_key(kind, groups.into_iter())?;
    Ok(Report {
        kind,
        period,
        rows,
        total,
        undated,
        closed,
        conflicts,
        gaps: Vec::new(),
    })
}

/// [`build`] on the store's current state, opened afresh: a report that finds a data
/// file gone (a writer committed and removed it after this reader read the manifest)
/// starts again on the new manifest, so readers never fail because a writer committed.
pub fn build_current(
    root: &std::path::Path,
    kind: ReportKind,
    period: &Period,
) -> Result<(Store, Report), ReportError> {
    // Fault injection for the tests: a pause between reading the manifest and reading
    // the files it names, so that a commit can land in between.
    let pause = std::env::var("HALO_BILLING_TEST_PAUSE_AFTER_MANIFEST_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis);
    let mut tries = 0;
    loop {
        let store = Store::open(root)?;
        if let Some(p) = pause.filter(|_| tries == 0) {
            std::thread::sleep(p);
        }
        match build(&store, kind, period) {
            Err(e) if e.is_vanished_file() && tries < 20 => tries += 1,
            Err(e) => return Err(e),
            Ok(mut rep) => {
                rep.gaps = coverage_gaps(&store, &rep.period)?;
                return Ok((store, rep));
            }
        }
    }
}

/// The parts of `period` the store does not cover (see [`coverage_gaps_from`]).
pub fn coverage_gaps(store: &Store, period: &Period) -> Result<Vec<(i64, i64)>, ReportError> {
    coverage_gaps_from(store, period.from_ns, period.to_ns)
}

/// The parts of `[from_ns, to_ns)` the store does not cover. Time after now is not a gap
/// (a range that runs into the future, the current month say, is covered up to now). A
/// range with no start (`from_ns` = `i64::MIN`, `--to` alone) always has a gap
/// `(i64::MIN, first covered instant)`: earlier work may exist that the store never saw.
pub fn coverage_gaps_from(
    store: &Store,
    from_ns: i64,
    to_ns: i64,
) -> Result<Vec<(i64, i64)>, ReportError> {
    let mut covered = store.coverage()?;
    // A month whose folder holds a data file the manifest does not name is not vouched
    // for: its figures may lack that file's rows.
    let strays = store.stray_files();
    if !strays.is_empty() {
        let mut bad: Vec<(i64, i64)> = Vec::new();
        for p in &strays {
            let month = p
                .parent()
                .and_then(crate::store::month_of_folder)
                .map(crate::store::month_bounds);
            if let Some((f, t)) = month.filter(|(f, t)| f < t && *f < to_ns && from_ns < *t) {
                eprintln!(
                    "halo-billing: warning: `{}` is a data file the manifest does not name (a removed entry?): its month counts as not covered; `halo-billing status --verify` lists every such file",
                    p.display()
                );
                bad.push((f, t));
            }
        }
        covered = crate::store::coverage_minus(&covered, &bad);
    }
    // Now, to the second (a gap that ends now reads as a time, not a nanosecond count).
    let now = chrono::Utc::now().timestamp().saturating_mul(1_000_000_000);
    let to = to_ns.min(now.max(from_ns));
    if from_ns == i64::MIN {
        let Some(&(first, _)) = covered.first() else {
            return Ok(vec![(i64::MIN, to)]);
        };
        let mut gaps = vec![(i64::MIN, first.min(to))];
        gaps.extend(crate::store::coverage_gaps(first, to, &covered));
        return Ok(gaps);
    }
    Ok(crate::store::coverage_gaps(from_ns, to, &covered))
}

impl ReportError {
    /// Whether this is a data file that vanished under the reader (removed by a commit).
    pub fn is_vanished_file(&self) -> bool {
        matches!(
            self,
            ReportError::Store(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound
        )
    }
}

/// Folds the `(id, text)` groups into one row per report key: the contract id for
/// contracts, the invoice number for invoices. The other column is an attribute: where
/// actions of one key disagree on it (a contract renamed mid-month, an abbreviated row
/// without its invoice_id), the row shows the value most of its actions carry (a present
/// value before a missing one; on a tie, the greater), and the disagreement is listed in
/// [`Report::conflicts`]. Totals are merged exactly.
fn merge_by_primary_key(
    kind: ReportKind,
    groups: impl Iterator<Item = ((i64, Option<String>), Totals)>,
) -> Result<(Vec<Row>, Vec<String>), Overflow> {
    use std::collections::BTreeMap;
    type Attr = (Option<i64>, Option<String>);
    // Primary key -> (attribute -> totals).
    let mut by_key: BTreeMap<(Option<String>, Option<i64>), BTreeMap<Attr, Totals>> =
        BTreeMap::new();
    for ((id, text), totals) in groups {
        let id = (id != 0).then_some(id);
        let (primary, attr): ((Option<String>, Option<i64>), Attr) = match kind {
            ReportKind::Contracts => ((None, id), (None, if id.is_some() { text } else { None })),
            ReportKind::Invoices => (
                (text.clone(), None),
                (if text.is_some() { id } else { None }, None),
            ),
        };
        let slot = by_key.entry(primary).or_default().entry(attr).or_default();
        slot.merge(&totals)?;
    }
    let mut rows = Vec::with_capacity(by_key.len());
    let mut conflicts = Vec::new();
    for ((text, id), attrs) in by_key {
        let mut total = Totals::default();
        for t in attrs.values() {
            total.merge(t)?;
        }
        let chosen = attrs
            .iter()
            .max_by(|a, b| {
                let present = |x: &Attr| x.0.is_some() || x.1.is_some();
                (present(a.0), a.1.actions, a.0).cmp(&(present(b.0), b.1.actions, b.0))
            })
            .map(|(k, _)| k.clone())
            .unwrap_or_default();
        let present: Vec<&Attr> = attrs
            .keys()
            .filter(|a| a.0.is_some() || a.1.is_some())
            .collect();
        if present.len() > 1 {
            let shown = |a: &Attr| match a {
                (Some(i), _) => i.to_string(),
                (_, Some(t)) => format!("`{t}`"),
                _ => String::new(),
            };
            let values: Vec<String> = present.iter().map(|a| shown(a)).collect();
            conflicts.push(match kind {
                ReportKind::Contracts => format!(
                    "contract {} appears with {} references ({}); the row shows {}",
                    id.unwrap_or_default(),
                    values.len(),
                    values.join(", "),
                    shown(&chosen)
                ),
                ReportKind::Invoices => format!(
                    "invoice `{}` appears with {} invoice ids ({}); the row shows {}",
                    text.as_deref().unwrap_or_default(),
                    values.len(),
                    values.join(", "),
                    shown(&chosen)
                ),
            });
        }
        rows.push(match kind {
            ReportKind::Contracts => Row {
                id,
                text: chosen.1,
                totals: total,
            },
            ReportKind::Invoices => Row {
                id: chosen.0,
                text,
                totals: total,
            },
        });
    }
    Ok((rows, conflicts))
}
