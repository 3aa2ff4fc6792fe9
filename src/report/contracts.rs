//! `report contracts` and `report invoices`: a period's totals per contract or per
//! invoice. Reads only the columns it needs from the partitions that overlap the period
//! (a whole month from its file's footer), sums them with [`crate::aggregate`] on the
//! reader threads, merges the groups by the report's key and lays them out as a
//! [`Sheet`]; no figure is rounded but by [`super::measures`].

use super::error::ReportError;
use super::select;
use super::sheet::{Chart, Column, Kind, Scope, Sheet};
use crate::aggregate::{Overflow, Totals};
use crate::exact;
use crate::fold::groups::{Groups, ReportKind};
use crate::frame::col;
use crate::period::Period;
use crate::store::Store;

/// One row: the key and its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    /// Contract id or invoice id (`None` = none).
    id: Option<i64>,
    /// Contract reference or invoice number.
    text: Option<String>,
    /// The group's totals.
    totals: Totals,
}

/// The groups of a period, merged by key.
#[derive(Debug, Clone)]
struct Grouped {
    kind: ReportKind,
    /// The period reported (a closed period asked for as itself: the close's label).
    period: Period,
    /// Rows in key order.
    rows: Vec<Row>,
    /// Sum of all rows.
    total: Totals,
    /// Keys whose actions disagree on the other column (see [`merge_by_primary_key`]).
    conflicts: Vec<String>,
    /// The closes whose frozen copies the figures come from.
    closed: Vec<crate::store::ClosedPeriod>,
}

/// Sums one part. A part that is its file's whole month ([`select::whole`]) is summed
/// from the totals in the file's footer when it has them ([`super::footers`]), else from the
/// columns needed; the datetime column is read only for a part that cuts its month.
fn part_groups(store: &Store, p: &select::Part, kind: ReportKind) -> Result<Groups, ReportError> {
    let whole = select::whole(p);
    if whole && let Some(groups) = super::footers::groups(store, &p.file, kind)? {
        return Ok(groups);
    }
    let (id_col, text_col) = crate::fold::groups::columns(kind);
    let mut columns = vec![id_col, text_col];
    columns.extend(col::MEASURES);
    if !whole {
        columns.push(col::DATETIME);
    }
    let df = store.read_slice(&p.file, &columns, 0, p.file.rows as usize)?;
    Ok(crate::fold::groups::slice_groups(
        &df, kind, whole, p.from_ns, p.to_ns,
    )?)
}

/// The report of `kind` for `period` from `store`.
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
pub fn build(store: &Store, kind: ReportKind, period: &Period) -> Result<Sheet, ReportError> {
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
            finish(kind, shown, groups, closes)
        }
        _ => finish(kind, period.clone(), groups, closes),
    }
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
    closed: Vec<crate::store::ClosedPeriod>,
) -> Result<Sheet, ReportError> {
    let mut total = Totals::default();
    for t in groups.values() {
        total.merge(t)?;
    }
    let (rows, conflicts) = merge_by_primary_key(kind, groups.into_iter())?;
    Ok(to_sheet(Grouped {
        kind,
        period,
        rows,
        total,
        closed,
        conflicts,
    }))
}

/// [`build`] on the store's current state, opened afresh: a report that finds a data
/// file gone (a writer committed and removed it after this reader read the manifest)
/// starts again on the new manifest, so readers never fail because a writer committed.
pub fn build_current(
    root: &std::path::Path,
    kind: ReportKind,
    period: &Period,
) -> Result<(Store, Sheet), ReportError> {
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
            Ok(sheet) => return Ok((store, sheet)),
        }
    }
}

/// Folds the `(id, text)` groups into one row per report key: the contract id for
/// contracts, the invoice number for invoices. The other column is an attribute: where
/// actions of one key disagree on it (a contract renamed mid-month, an abbreviated row
/// without its invoice_id), the row shows the value most of its actions carry (a present
/// value before a missing one; on a tie, the greater), and the disagreement is listed in
/// [`Grouped::conflicts`]. Totals are merged exactly.
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

/// The report's name.
pub fn name(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Contracts => "contracts",
        ReportKind::Invoices => "invoices",
    }
}

/// The groups as a sheet: the key columns, actions and the ten measures.
fn to_sheet(g: Grouped) -> Sheet {
    let (columns, blank) = match g.kind {
        ReportKind::Contracts => (
            vec![
                Column::new("contract_id", Kind::Id).key(),
                Column::new("contract_ref", Kind::Text),
            ],
            "(no contract)",
        ),
        ReportKind::Invoices => (
            vec![
                Column::new("invoice_number", Kind::Text).key(),
                Column::new("invoice_id", Kind::Id),
            ],
            "(not invoiced)",
        ),
    };
    let mut columns = columns;
    columns.push(Column::new("actions", Kind::Count));
    columns.extend(super::measures::columns(false));
    let title = format!(
        "Totals per {}, {} ({})",
        match g.kind {
            ReportKind::Contracts => "contract",
            ReportKind::Invoices => "invoice",
        },
        g.period.label,
        g.period.timezone.name()
    );
    let mut sheet = Sheet::new(
        name(g.kind),
        title,
        columns,
        Scope::new(&g.period, g.closed),
    );
    sheet.rows = g
        .rows
        .iter()
        .map(|row| {
            let id = row.id.map(|v| v.to_string()).unwrap_or_default();
            let text = row.text.clone().unwrap_or_default();
            let mut r = match g.kind {
                ReportKind::Contracts => vec![id, text],
                ReportKind::Invoices => vec![text, id],
            };
            r.push(row.totals.actions.to_string());
            r.extend(super::measures::shown(&row.totals.sums));
            r
        })
        .collect();
    let mut total = vec![String::new(), String::new(), g.total.actions.to_string()];
    total.extend(super::measures::shown(&g.total.sums));
    sheet.total = Some(total);
    sheet.notes = vec![format!("({})", exact::HOURS_NOTE)];
    sheet.notes.extend(g.conflicts.iter().cloned());
    sheet.warnings = g.conflicts;
    sheet.blank_key = Some(blank);
    sheet.chart = match g.kind {
        ReportKind::Contracts => Chart::HoursPerContract,
        ReportKind::Invoices => Chart::None,
    };
    sheet
}
