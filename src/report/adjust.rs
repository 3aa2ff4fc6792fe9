//! `report adjustments`: what changed in the store after a period was closed, action by
//! action, and the deltas per contract and per invoice to bill or credit next period.
//!
//! A new action counts +1 with its figures; a deleted one −1 with its figures negated; a
//! changed one 0 actions with the difference of each figure. For the per-contract and
//! per-invoice views the frozen copy is credited to the contract (invoice) it had at the
//! close and the live copy charged to the one it has now, so a re-allocated action moves
//! between rows exactly.

// Measures are parallel arrays indexed by measure number (as in `aggregate`).
#![allow(clippy::needless_range_loop)]

use super::error::ReportError;
use super::sheet::{Column, Kind, Scope, Sheet};
use crate::aggregate::{MEASURE_NAMES, MEASURES};
use crate::frame::col;
use crate::period::Period;
use crate::store::Store;
use polars::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// Grouping of the adjustments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// One row per new, changed or deleted action.
    Action,
    /// Net deltas per contract.
    Contract,
    /// Net deltas per invoice.
    Invoice,
}

/// One change: kind, `(ticket_id, id)`, its row at the close, its row now.
type Change<'a> = (&'a str, (i64, i64), Option<usize>, Option<usize>);
/// A delta row's key: invoice number, id (contract or invoice), contract reference.
type GroupKey = (Option<String>, Option<i64>, Option<String>);

struct Side {
    keys: HashMap<(i64, i64), usize>,
    hash: Vec<i64>,
    contract: Vec<(Option<i64>, Option<String>)>,
    invoice: Vec<(Option<String>, Option<i64>)>,
    measures: Vec<Vec<i64>>,
}

fn side(df: &DataFrame) -> PolarsResult<Side> {
    let i =
        |c: &str| -> PolarsResult<Vec<Option<i64>>> { Ok(df.column(c)?.i64()?.iter().collect()) };
    let s = |c: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(df
            .column(c)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let (t, id) = (i(col::TICKET_ID)?, i(col::ID)?);
    let keys = t
        .iter()
        .zip(&id)
        .enumerate()
        .map(|(r, (t, i))| ((t.unwrap_or_default(), i.unwrap_or_default()), r))
        .collect();
    let (cid, cref) = (i(col::CONTRACT_ID)?, s(col::CONTRACT_REF)?);
    let (inum, iid) = (s(col::INVOICE_NUMBER)?, i(col::INVOICE_ID)?);
    Ok(Side {
        keys,
        // Recomputed from the columns, so copies written under different hash schemes
        // (a close made before a store's hash migration) compare by their content.
        hash: crate::frame::content_hashes(df)?,
        contract: cid
            .into_iter()
            .zip(cref)
            .map(|(i, r)| (i, if i.is_some() { r } else { None }))
            .collect(),
        invoice: inum.into_iter().zip(iid).collect(),
        measures: col::MEASURES
            .iter()
            .map(|m| i(m).map(|v| v.into_iter().map(Option::unwrap_or_default).collect()))
            .collect::<PolarsResult<_>>()?,
    })
}

/// One row of deltas: its key cells, the actions delta and the measures' deltas in their
/// integer units.
#[derive(Debug, Clone, Default)]
struct GridRow {
    keys: Vec<String>,
    actions: i64,
    sums: [i64; MEASURES],
}

/// The adjustments of a closed period.
///
/// Compares the live store with the frozen copy of the period's latest close, in force
/// or reopened (so the history of a reopened close stays available).
pub fn adjustments(store: &Store, period: &Period, by: By) -> Result<Sheet, ReportError> {
    let tz = period.timezone.name();
    let closed = store
        .closed_periods()?
        .into_iter()
        .rev()
        .find(|c| c.period == period.label && c.timezone == tz)
        .ok_or_else(|| {
            ReportError::NotClosed(format!(
                "period {} ({tz}) has never been closed, so nothing has changed since a close: adjustments are what changed in the store after `halo-billing close --period {} --timezone {tz}` froze the period's figures (`halo-billing status` lists the closes)",
                period.label, period.label
            ))
        })?;
    store.verify_close(&closed)?;
    let frozen_path = store.root().join(&closed.file);
    let frozen = crate::store::read_parquet_all(&frozen_path)?;
    let live = store.period_actions(closed.from_ns, closed.to_ns)?;
    let pe = |source| ReportError::column("period", source);
    let (old, new) = (side(&frozen).map_err(pe)?, side(&live).map_err(pe)?);

    // (change, key, old row, new row), in key order.
    let mut changes: Vec<Change> = Vec::new();
    for (k, &r) in &new.keys {
        match old.keys.get(k) {
            None => changes.push(("new", *k, None, Some(r))),
            Some(&o) if old.hash[o] != new.hash[r] => {
                changes.push(("changed", *k, Some(o), Some(r)))
            }
            Some(_) => {}
        }
    }
    for (k, &o) in &old.keys {
        if !new.keys.contains_key(k) {
            changes.push(("deleted", *k, Some(o), None));
        }
    }
    changes.sort_by_key(|c| c.1);
    let rows = match by {
        By::Action => action_rows(&changes, &old, &new)?,
        By::Contract | By::Invoice => group_rows(by, &changes, &old, &new)?,
    };
    let keys: Vec<Column> = match by {
        By::Action => vec![
            Column::new("change", Kind::Text).key(),
            Column::new("ticket_id", Kind::Id).key(),
            Column::new("id", Kind::Id).key(),
            Column::new("contract_id", Kind::Id),
            Column::new("contract_ref", Kind::Text),
            Column::new("invoice_number", Kind::Text),
            Column::new("invoice_id", Kind::Id),
        ],
        By::Contract => vec![
            Column::new("contract_id", Kind::Id).key(),
            Column::new("contract_ref", Kind::Text),
        ],
        By::Invoice => vec![
            Column::new("invoice_number", Kind::Text).key(),
            Column::new("invoice_id", Kind::Id),
        ],
    };
    let mut total = GridRow {
        keys: vec![String::new(); keys.len()],
        ..GridRow::default()
    };
    for r in &rows {
        total.actions += r.actions;
        for m in 0..MEASURES {
            total.sums[m] = total.sums[m]
                .checked_add(r.sums[m])
                .ok_or_else(|| overflow(m))?;
        }
    }
    let state = match &closed.reopened_at {
        None => "closed".to_string(),
        Some(at) => format!("reopened {at}"),
    };
    let title = format!(
        "Adjustments of {} ({tz}) since its close of {} ({state}, sha256 {}), by {}",
        closed.period,
        closed.closed_at,
        closed.sha256,
        match by {
            By::Action => "action",
            By::Contract => "contract",
            By::Invoice => "invoice",
        }
    );
    let cells = |r: &GridRow| -> Vec<String> {
        let mut v = r.keys.clone();
        v.push(r.actions.to_string());
        v.extend(super::measures::shown(&r.sums));
        v
    };
    let mut columns = keys;
    columns.push(Column::new("actions", Kind::Count));
    columns.extend(super::measures::columns(false));
    let mut sheet = Sheet::new(
        "adjustments",
        title,
        columns,
        Scope {
            since_close: true,
            ..Scope::new(period, vec![closed])
        },
    );
    sheet.rows = rows.iter().map(cells).collect();
    sheet.total = Some(cells(&total));
    if rows.is_empty() {
        sheet.notes.push("(no changes since the close)".into());
    }
    sheet.blank_key = match by {
        By::Action => None,
        By::Contract => Some("(no contract)"),
        By::Invoice => Some("(not invoiced)"),
    };
    Ok(sheet)
}

/// One row per new, changed or deleted action; an action moved to another contract is a
/// credit to the old contract (−1, its figures at the close negated) and a charge to the
/// new one (+1, its figures now), as in the per-contract view.
fn action_rows(changes: &[Change], old: &Side, new: &Side) -> Result<Vec<GridRow>, ReportError> {
    let num = |v: &Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let row = |change: &str, (t, id): (i64, i64), s: &Side, r: usize, actions: i64| GridRow {
        keys: vec![
            change.to_string(),
            t.to_string(),
            id.to_string(),
            num(&s.contract[r].0),
            text(&s.contract[r].1),
            text(&s.invoice[r].0),
            num(&s.invoice[r].1),
        ],
        actions,
        sums: [0; MEASURES],
    };
    let mut rows = Vec::new();
    for &(change, key, o, n) in changes {
        match (o, n) {
            (Some(o), Some(n)) if old.contract[o].0 != new.contract[n].0 => {
                let mut credit = row("moved from", key, old, o, -1);
                let mut charge = row("moved to", key, new, n, 1);
                for m in 0..MEASURES {
                    credit.sums[m] = old.measures[m][o]
                        .checked_neg()
                        .ok_or_else(|| overflow(m))?;
                    charge.sums[m] = new.measures[m][n];
                }
                rows.push(credit);
                rows.push(charge);
            }
            _ => {
                let (s, r) = n.map(|r| (new, r)).or(o.map(|r| (old, r))).expect("a side");
                let count = match (o, n) {
                    (None, Some(_)) => 1,
                    (Some(_), None) => -1,
                    _ => 0,
                };
                let mut x = row(change, key, s, r, count);
                for m in 0..MEASURES {
                    x.sums[m] = n
                        .map(|r| new.measures[m][r])
                        .unwrap_or(0)
                        .checked_sub(o.map(|r| old.measures[m][r]).unwrap_or(0))
                        .ok_or_else(|| overflow(m))?;
                }
                rows.push(x);
            }
        }
    }
    Ok(rows)
}

/// Net deltas per contract or invoice: old copies credited, new copies charged.
fn group_rows(
    by: By,
    changes: &[Change],
    old: &Side,
    new: &Side,
) -> Result<Vec<GridRow>, ReportError> {
    let mut groups: BTreeMap<GroupKey, (i64, [i64; MEASURES])> = BTreeMap::new();
    let key = |s: &Side, r: usize| match by {
        By::Contract => (None, s.contract[r].0, s.contract[r].1.clone()),
        _ => (s.invoice[r].0.clone(), s.invoice[r].1, None),
    };
    for (_, _, o, n) in changes {
        if let Some(r) = o {
            let g = groups.entry(key(old, *r)).or_default();
            g.0 -= 1;
            for m in 0..MEASURES {
                g.1[m] = g.1[m]
                    .checked_sub(old.measures[m][*r])
                    .ok_or_else(|| overflow(m))?;
            }
        }
        if let Some(r) = n {
            let g = groups.entry(key(new, *r)).or_default();
            g.0 += 1;
            for m in 0..MEASURES {
                g.1[m] = g.1[m]
                    .checked_add(new.measures[m][*r])
                    .ok_or_else(|| overflow(m))?;
            }
        }
    }
    let num = |v: &Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    Ok(groups
        .into_iter()
        .map(|((inum, id, cref), (actions, sums))| GridRow {
            keys: if by == By::Contract {
                vec![num(&id), text(&cref)]
            } else {
                vec![text(&inum), num(&id)]
            },
            actions,
            sums,
        })
        .collect())
}

/// A delta that does not fit in 64 bits: an error, never a wrap.
fn overflow(m: usize) -> ReportError {
    ReportError::from(crate::aggregate::Overflow {
        measure: MEASURE_NAMES[m],
    })
}
