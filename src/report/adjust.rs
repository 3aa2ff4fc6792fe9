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

use super::ReportError;
use crate::aggregate::{MEASURE_NAMES, MEASURES};
use crate::exact;
use crate::frame::col;
use crate::period::Period;
use crate::store::{Store, StoreError};
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

/// Builds the adjustments of a closed period as CSV.
pub fn adjustments(store: &Store, period: &Period, by: By) -> Result<String, ReportError> {
    let tz = period.timezone.name();
    let closed = store.closed(&period.label, tz)?.ok_or_else(|| {
        ReportError::Store(StoreError::Manifest {
            path: store.root().join("closed.json"),
            reason: format!(
                "period {} ({tz}) is not closed; `halo-billing close --period {}` first",
                period.label, period.label
            ),
        })
    })?;
    store.verify_close(&closed)?;
    let frozen_path = store.root().join(&closed.file);
    let frozen = crate::store::read_parquet_all(&frozen_path)?;
    let live = store.period_actions(closed.from_ns, closed.to_ns)?;
    let pe = |source| ReportError::Column {
        column: "period",
        source,
    };
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

    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let fig = |m: usize, v: i64| -> String {
        match MEASURE_NAMES[m] {
            "mileage" => exact::format_mileage(v),
            n if n.ends_with("_amount") => exact::format_money(v),
            _ => exact::format_hours(v),
        }
    };
    let text = |s: &Option<String>| super::safe::cell(s.as_deref().unwrap_or("")).into_owned();
    let num = |v: &Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    match by {
        By::Action => {
            let mut h = vec![
                "change",
                "ticket_id",
                "id",
                "contract_id",
                "contract_ref",
                "invoice_number",
                "invoice_id",
                "actions",
            ];
            h.extend(MEASURE_NAMES);
            out.write_record(&h).map_err(csv_err)?;
            for (change, (t, id), o, n) in &changes {
                let at = n
                    .map(|r| (&new, r))
                    .or(o.map(|r| (&old, r)))
                    .expect("a side");
                let (c, i) = (&at.0.contract[at.1], &at.0.invoice[at.1]);
                let count = match (o, n) {
                    (None, Some(_)) => 1,
                    (Some(_), None) => -1,
                    _ => 0,
                };
                let mut rec = vec![
                    change.to_string(),
                    t.to_string(),
                    id.to_string(),
                    num(&c.0),
                    text(&c.1),
                    text(&i.0),
                    num(&i.1),
                    count.to_string(),
                ];
                for m in 0..MEASURES {
                    let d = n
                        .map(|r| new.measures[m][r])
                        .unwrap_or(0)
                        .checked_sub(o.map(|r| old.measures[m][r]).unwrap_or(0))
                        .ok_or_else(|| overflow(m))?;
                    rec.push(fig(m, d));
                }
                out.write_record(&rec).map_err(csv_err)?;
            }
        }
        By::Contract | By::Invoice => {
            // key -> (actions delta, measure deltas); old copies credited, new charged.
            let mut groups: BTreeMap<GroupKey, (i64, [i64; MEASURES])> = BTreeMap::new();
            let key = |s: &Side, r: usize| match by {
                By::Contract => (None, s.contract[r].0, s.contract[r].1.clone()),
                _ => (s.invoice[r].0.clone(), s.invoice[r].1, None),
            };
            for (_, _, o, n) in &changes {
                if let Some(r) = o {
                    let g = groups.entry(key(&old, *r)).or_default();
                    g.0 -= 1;
                    for m in 0..MEASURES {
                        g.1[m] = g.1[m]
                            .checked_sub(old.measures[m][*r])
                            .ok_or_else(|| overflow(m))?;
                    }
                }
                if let Some(r) = n {
                    let g = groups.entry(key(&new, *r)).or_default();
                    g.0 += 1;
                    for m in 0..MEASURES {
                        g.1[m] = g.1[m]
                            .checked_add(new.measures[m][*r])
                            .ok_or_else(|| overflow(m))?;
                    }
                }
            }
            let mut h = if by == By::Contract {
                vec!["contract_id", "contract_ref"]
            } else {
                vec!["invoice_number", "invoice_id"]
            };
            h.push("actions");
            h.extend(MEASURE_NAMES);
            out.write_record(&h).map_err(csv_err)?;
            let rows: Vec<_> = groups.into_iter().collect();
            let shown: Vec<Vec<String>> = rows
                .iter()
                .map(|(_, v)| (0..MEASURES).map(|m| fig(m, v.1[m])).collect())
                .collect();
            for (((inum, id, cref), (count, _)), figs) in rows.iter().zip(shown) {
                let mut rec = if by == By::Contract {
                    vec![num(id), text(cref)]
                } else {
                    vec![text(inum), num(id)]
                };
                rec.push(count.to_string());
                rec.extend(figs);
                out.write_record(&rec).map_err(csv_err)?;
            }
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| csv_err(e.into_error().into()))?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 text"))
}

/// A delta that does not fit in 64 bits: an error, never a wrap.
fn overflow(m: usize) -> ReportError {
    ReportError::Overflow(crate::aggregate::Overflow {
        measure: MEASURE_NAMES[m],
    })
}

fn csv_err(e: csv::Error) -> ReportError {
    ReportError::Store(StoreError::Io {
        action: "cannot format",
        path: "adjustments".into(),
        source: std::io::Error::other(e.to_string()),
    })
}
