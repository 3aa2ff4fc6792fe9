//! What an export has to issue, set against the export register: work never exported is
//! billed (or booked) in full; work exported and unchanged is left out, with the
//! documents it went out on; work exported and changed since (amount, hours, contract)
//! is corrected by the difference, against the document that carried it, or refused.
//!
//! The register is a ledger per action: each export adds, for each action, what it
//! billed on each contract and charge rate (a correction adds the signed difference). An
//! action's billed net plus what this export issues for it is always what the store
//! holds for it now; that identity is the export's own check before anything is written.

use super::{ContractWork, IssuedKey, Work};
use crate::period::Period;
use crate::report::ReportError;
use crate::report::billed::{ActionRow, Billed};
use crate::store::Store;
use crate::store::register::Line;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What happens to exported work that changed since it was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnChange {
    /// Bill the difference as a correction naming the original document (a credit note
    /// where it is negative; DATEV: a correction booking on the same invoice).
    Correct,
    /// Write nothing and list each changed action with its old and new amounts.
    Refuse,
}

/// A sales cell: contract and charge rate.
pub type Cell = (Option<i64>, Option<i64>);

/// Differences of changed work per corrected document and cell.
pub type Corrections = BTreeMap<String, BTreeMap<Cell, Work>>;

/// An action as DATEV books it now: Halo's invoice number, contract, posting month,
/// hours and amount.
struct Invoiced {
    invoice: String,
    contract: Option<i64>,
    month: (i32, u32),
    hours_ms: i64,
    amount_cents: i64,
}

/// One action's share of a document this export issues.
#[derive(Debug, Clone)]
pub struct Contribution {
    /// What it adds to the billed (or booked) amount: the register line, its document
    /// number still to be filled in.
    pub share: Line,
    /// Where it goes: new work (`None`), or a correction of this document.
    pub corrects: Option<String>,
    /// DATEV: Halo's invoice number it is booked on.
    pub invoice: Option<String>,
}

impl Contribution {
    /// Its register line, once the document number is known.
    pub fn line(&self, document: &str) -> Line {
        Line {
            document: document.to_string(),
            ..self.share.clone()
        }
    }
}

/// The action a share belongs to, as it is now (or as recorded, when it is gone).
#[derive(Debug, Clone, Copy)]
struct Who {
    key: (i64, i64),
    content_hash: i64,
    datetime: Option<i64>,
}

impl Who {
    /// The action as recorded last in the register (for an action the store lost).
    fn recorded(key: (i64, i64), b: &Billed) -> Who {
        Who {
            key,
            content_hash: b.lines.last().map_or(0, |l| l.content_hash),
            datetime: b.datetime(),
        }
    }

    /// Its share on `contract` and `charge_rate`.
    fn share(&self, (contract, charge_rate): Cell, hours_ms: i64, amount_cents: i64) -> Line {
        Line {
            key: self.key,
            content_hash: self.content_hash,
            datetime: self.datetime,
            contract,
            charge_rate,
            hours_ms,
            amount_cents,
            document: String::new(),
        }
    }
}

/// What differs between `want` (now) and `had` (exported), cell by cell: `(cell, hours,
/// amount)` for every cell that differs, in cell order. For work exported before
/// (`had` not empty) only money is billed: a cell whose amount is unchanged is no
/// difference, whatever its hours (they travel with the next change of its amount).
fn differences<K: Ord + Clone>(
    had: &BTreeMap<K, (i64, i64)>,
    want: &BTreeMap<K, (i64, i64)>,
) -> Vec<(K, i64, i64)> {
    let exported = !had.is_empty();
    let cells: BTreeSet<&K> = had.keys().chain(want.keys()).collect();
    cells
        .into_iter()
        .filter_map(|k| {
            let (wh, wa) = want.get(k).copied().unwrap_or_default();
            let (hh, ha) = had.get(k).copied().unwrap_or_default();
            let (dh, da) = (wh - hh, wa - ha);
            let differs = if exported {
                da != 0
            } else {
                (dh, da) != (0, 0)
            };
            differs.then(|| (k.clone(), dh, da))
        })
        .collect()
}

/// An exported action that changed since.
#[derive(Debug, Clone)]
pub struct Changed {
    /// `(ticket_id, id)`.
    pub key: (i64, i64),
    /// The documents that carried it.
    pub documents: Vec<String>,
    /// Exported: contract, hours ms, amount cents (net).
    pub old: Vec<(Option<i64>, i64, i64)>,
    /// Now: contract, hours, amount (`None`: no longer chargeable, or gone).
    pub new: Option<(Option<i64>, i64, i64)>,
}

impl Changed {
    /// One line for a person: `(ticket_id, id): contract 101, 2.0000 h, 360.00 on HB-1 -> ...`.
    pub fn describe(&self) -> String {
        let show = |(c, h, a): &(Option<i64>, i64, i64)| {
            format!(
                "contract {}, {} h, {}",
                c.map_or("none".to_string(), |c| c.to_string()),
                crate::exact::format_hours(*h),
                crate::exact::format_money(*a)
            )
        };
        let old: Vec<String> = self.old.iter().map(show).collect();
        format!(
            "({}, {}): exported {} on {} -> now {}",
            self.key.0,
            self.key.1,
            old.join(" + "),
            self.documents.join(", "),
            self.new
                .as_ref()
                .map(show)
                .unwrap_or_else(|| "nothing to bill (no longer chargeable, or deleted)".into())
        )
    }
}

/// Work exported before (left out of this export, or corrected by it).
#[derive(Debug, Clone, Default)]
pub struct Already {
    /// Its billed net amount, cents (every action considered: the export's check).
    pub amount_cents: i64,
    /// Per export (register number): its share.
    pub by_export: BTreeMap<u32, Share>,
}

/// One earlier export's share of the work a new export leaves out.
#[derive(Debug, Clone, Default)]
pub struct Share {
    /// Actions it carried.
    pub actions: u64,
    /// Their net amount on it, cents.
    pub amount_cents: i64,
    /// Its documents that carried them.
    pub documents: BTreeSet<String>,
}

impl Already {
    /// The shares of every export but `own` (a re-issued export's own work is not left
    /// out of it): actions, amount, documents and the exports' numbers.
    pub fn besides(&self, own: Option<u32>) -> (u64, i64, Vec<String>, Vec<u32>) {
        let mut out = (0, 0, Vec::new(), Vec::new());
        for (seq, s) in self.by_export.iter().filter(|(seq, _)| Some(**seq) != own) {
            out.0 += s.actions;
            out.1 += s.amount_cents;
            out.2.extend(s.documents.iter().cloned());
            out.3.push(*seq);
        }
        out
    }
}

/// What a sales export (Xero, QuickBooks, ledger) has to issue.
#[derive(Debug, Default)]
pub struct SalesPlan {
    /// Work never exported, per contract and charge rate.
    pub unbilled: BTreeMap<Option<i64>, ContractWork>,
    /// Differences of changed work, per corrected document and (contract, rate).
    pub corrections: Corrections,
    /// Each action's share, for the register.
    pub contributions: Vec<Contribution>,
    /// Work exported before (the billed net of every action considered).
    pub already: Already,
    /// Changed actions.
    pub changed: Vec<Changed>,
    /// Actions exported by us that Halo has invoiced itself since (not corrected: check
    /// they were not billed twice).
    pub invoiced_since: Vec<(i64, i64)>,
    /// The unbilled chargeable amount of the range now (independent of the above).
    pub unbilled_total: i64,
    /// Each contract's reference (most common among the range's actions).
    pub refs: BTreeMap<Option<i64>, String>,
}

/// What a DATEV export has to book.
#[derive(Debug, Default)]
pub struct BookingPlan {
    /// Invoiced work never booked, per posting month, invoice and contract.
    pub issued: BTreeMap<IssuedKey, Work>,
    /// Differences of booked work, per posting month, invoice and contract.
    pub corrections: BTreeMap<IssuedKey, Work>,
    /// Contract references of invoiced contracts (most common).
    pub refs: BTreeMap<Option<i64>, String>,
    /// Each action's share, for the register.
    pub contributions: Vec<Contribution>,
    /// Work booked before (the booked net of every action considered).
    pub already: Already,
    /// Changed actions.
    pub changed: Vec<Changed>,
    /// The invoiced amount of the range now (independent of the above).
    pub issued_total: i64,
}

/// Which exports (register numbers) carried each document number, of the active ones.
fn export_of_documents(store: &Store, ledger: &str) -> Result<HashMap<String, u32>, ReportError> {
    let mut m = HashMap::new();
    for e in store.register()?.exports {
        if e.active() && e.ledger() == ledger {
            for d in &e.documents {
                m.insert(d.number.clone(), e.seq);
            }
        }
    }
    Ok(m)
}

/// The keys of `wanted` that the store holds anywhere (any dated month).
fn held_anywhere(
    store: &Store,
    wanted: &HashSet<(i64, i64)>,
) -> Result<HashSet<(i64, i64)>, ReportError> {
    let mut found = HashSet::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    let all = Period {
        from_ns: i64::MIN + 1,
        to_ns: i64::MAX,
        label: "all time".into(),
        timezone: chrono_tz::UTC,
    };
    let (parts, _) = crate::report::select::parts(store, &all)?;
    let cols = [crate::frame::col::TICKET_ID, crate::frame::col::ID];
    crate::report::select::for_each_frame(store, &parts, &cols, |df| {
        let t = crate::fold::base::ints(df, cols[0])?;
        let i = crate::fold::base::ints(df, cols[1])?;
        for (t, i) in t.iter().zip(&i) {
            let k = (t.unwrap_or_default(), i.unwrap_or_default());
            if wanted.contains(&k) {
                found.insert(k);
            }
        }
        Ok(())
    })?;
    Ok(found)
}

/// The register's actions of `period` that the range no longer holds: recorded in the
/// range but gone from the store (deleted in Halo). Actions the store holds elsewhere
/// (moved to another date) belong to their new range.
fn gone(
    store: &Store,
    period: &Period,
    billed: &HashMap<(i64, i64), Billed>,
    seen: &HashSet<(i64, i64)>,
) -> Result<Vec<(i64, i64)>, ReportError> {
    let candidates: HashSet<(i64, i64)> = billed
        .iter()
        .filter(|(k, b)| {
            !seen.contains(k)
                && b.amount() != 0
                && b.datetime()
                    .is_some_and(|t| period.from_ns <= t && t < period.to_ns)
        })
        .map(|(k, _)| *k)
        .collect();
    let elsewhere = held_anywhere(store, &candidates)?;
    let mut out: Vec<(i64, i64)> = candidates.difference(&elsewhere).copied().collect();
    out.sort_unstable();
    Ok(out)
}

fn note_already(already: &mut Already, b: &Billed, docs: &HashMap<String, u32>) {
    already.amount_cents += b.amount();
    let mut seen = BTreeSet::new();
    for l in &b.lines {
        let seq = docs.get(&l.document).copied().unwrap_or_default();
        let share = already.by_export.entry(seq).or_default();
        share.amount_cents += l.amount_cents;
        share.documents.insert(l.document.clone());
        if seen.insert(seq) {
            share.actions += 1;
        }
    }
}

/// Plans a sales export of `rows` (the range's actions) against `billed` (the sales
/// register's active entries).
pub fn sales(
    store: &Store,
    period: &Period,
    rows: &[ActionRow],
    billed: &HashMap<(i64, i64), Billed>,
) -> Result<SalesPlan, ReportError> {
    let docs = export_of_documents(store, "sales")?;
    let mut plan = SalesPlan::default();
    let mut refs: HashMap<Option<i64>, crate::fold::base::Counts> = HashMap::new();
    let mut seen = HashSet::new();
    let empty = Billed::default();
    for r in rows {
        seen.insert(r.key);
        let b = billed.get(&r.key);
        crate::fold::base::count(refs.entry(r.contract).or_default(), Some(&r.contract_ref));
        if r.unbilled() {
            plan.unbilled_total += r.amount_cents;
        } else if r.invoiced {
            if b.is_some_and(|b| b.amount() != 0) {
                plan.invoiced_since.push(r.key);
            }
            continue; // Halo's invoices are DATEV's, never ours to correct
        }
        let now = r
            .unbilled()
            .then_some((r.contract, r.charge_rate, r.hours_ms, r.amount_cents));
        let who = Who {
            key: r.key,
            content_hash: r.content_hash,
            datetime: r.datetime,
        };
        weigh_sales(&mut plan, who, now, b.unwrap_or(&empty), &docs)?;
    }
    for key in gone(store, period, billed, &seen)? {
        let b = &billed[&key];
        weigh_sales(&mut plan, Who::recorded(key, b), None, b, &docs)?;
    }
    plan.refs = refs
        .iter()
        .filter(|(c, _)| c.is_some())
        .map(|(c, r)| (*c, crate::fold::base::most_common(r)))
        .collect();
    for (cid, w) in plan.unbilled.iter_mut() {
        w.reference = plan.refs.get(cid).cloned().unwrap_or_default();
    }
    plan.invoiced_since.sort_unstable();
    plan.changed.sort_by_key(|c| c.key);
    Ok(plan)
}

/// One action: what it should be billed now against what was billed.
fn weigh_sales(
    plan: &mut SalesPlan,
    who: Who,
    now: Option<(Option<i64>, Option<i64>, i64, i64)>,
    b: &Billed,
    docs: &HashMap<String, u32>,
) -> Result<(), ReportError> {
    let mut want: BTreeMap<Cell, (i64, i64)> = BTreeMap::new();
    if let Some((c, rate, h, a)) = now {
        want.insert((c, rate), (h, a));
    }
    let had = b.net(true);
    let fresh = had.is_empty();
    if !fresh {
        note_already(&mut plan.already, b, docs);
    }
    let diffs = differences(&had, &want);
    for &(cell, dh, da) in &diffs {
        // New work, or a difference on a contract the action was never billed on (moved
        // there), is billed on that contract's invoice; a difference on a contract it
        // was billed on corrects that document.
        let corrects = if fresh {
            None
        } else {
            b.document_for(cell.0).map(str::to_string)
        };
        match &corrects {
            Some(doc) => {
                let w = plan
                    .corrections
                    .entry(doc.clone())
                    .or_default()
                    .entry(cell)
                    .or_default();
                w.actions += 1;
                crate::fold::base::add(&mut w.hours_ms, dh, "chargeable_hours")?;
                crate::fold::base::add(&mut w.amount_cents, da, "chargeable_amount")?;
            }
            None => {
                plan.unbilled
                    .entry(cell.0)
                    .or_default()
                    .add(cell.1, who.key.0, dh, da)?;
            }
        }
        plan.contributions.push(Contribution {
            share: who.share(cell, dh, da),
            corrects,
            invoice: None,
        });
    }
    if !fresh && !diffs.is_empty() {
        plan.changed
            .push(changed(who.key, b, now.map(|(c, _, h, a)| (c, h, a))));
    }
    Ok(())
}

/// An exported action that changed: what the register says of it, and what it is now.
fn changed(key: (i64, i64), b: &Billed, new: Option<(Option<i64>, i64, i64)>) -> Changed {
    let mut documents: Vec<String> = b.lines.iter().map(|l| l.document.clone()).collect();
    documents.dedup();
    Changed {
        key,
        documents,
        old: b
            .net(false)
            .into_iter()
            .map(|((c, _), (h, a))| (c, h, a))
            .collect(),
        new,
    }
}

/// Plans a DATEV export of `rows` against `booked` (the bookings register's entries):
/// each action's invoiced amount is booked once on Halo's invoice number; a change on a
/// booked invoice is booked as the difference.
pub fn bookings(
    store: &Store,
    period: &Period,
    rows: &[ActionRow],
    booked: &HashMap<(i64, i64), Billed>,
) -> Result<BookingPlan, ReportError> {
    use chrono::Datelike;
    let docs = export_of_documents(store, "bookings")?;
    let month = |t: i64| {
        let d = period.date_of(t);
        (d.year(), d.month())
    };
    let mut plan = BookingPlan::default();
    let mut refs: HashMap<Option<i64>, crate::fold::base::Counts> = HashMap::new();
    let mut seen = HashSet::new();
    let empty = Billed::default();
    for r in rows {
        seen.insert(r.key);
        let now = match (&r.invoice_number, r.datetime) {
            (Some(n), Some(t)) if r.invoiced && r.amount_cents != 0 => {
                plan.issued_total += r.amount_cents;
                crate::fold::base::count(
                    refs.entry(r.contract).or_default(),
                    Some(&r.contract_ref),
                );
                Some(Invoiced {
                    invoice: n.clone(),
                    contract: r.contract,
                    month: month(t),
                    hours_ms: r.hours_ms,
                    amount_cents: r.amount_cents,
                })
            }
            _ => None,
        };
        let b = booked.get(&r.key).unwrap_or(&empty);
        let who = Who {
            key: r.key,
            content_hash: r.content_hash,
            datetime: r.datetime,
        };
        weigh_booking(&mut plan, who, r.datetime.map(month), now, b, &docs)?;
    }
    for key in gone(store, period, booked, &seen)? {
        let b = &booked[&key];
        let who = Who::recorded(key, b);
        weigh_booking(&mut plan, who, who.datetime.map(month), None, b, &docs)?;
    }
    plan.refs = refs
        .into_iter()
        .map(|(c, r)| {
            (
                c,
                if c.is_some() {
                    crate::fold::base::most_common(&r)
                } else {
                    String::new()
                },
            )
        })
        .collect();
    plan.changed.sort_by_key(|c| c.key);
    Ok(plan)
}

/// One action: what it should be booked now against what was booked, on Halo's
/// invoice numbers; `month` posts it when it is no longer invoiced.
fn weigh_booking(
    plan: &mut BookingPlan,
    who: Who,
    month: Option<(i32, u32)>,
    now: Option<Invoiced>,
    b: &Billed,
    docs: &HashMap<String, u32>,
) -> Result<(), ReportError> {
    // Booked net per (invoice, contract).
    let mut had: BTreeMap<(String, Option<i64>), (i64, i64)> = BTreeMap::new();
    for l in &b.lines {
        let e = had.entry((l.document.clone(), l.contract)).or_default();
        e.0 += l.hours_ms;
        e.1 += l.amount_cents;
    }
    had.retain(|_, v| *v != (0, 0));
    let mut want: BTreeMap<(String, Option<i64>), (i64, i64)> = BTreeMap::new();
    if let Some(n) = &now {
        want.insert(
            (n.invoice.clone(), n.contract),
            (n.hours_ms, n.amount_cents),
        );
    }
    let Some(at) = now.as_ref().map(|n| n.month).or(month) else {
        return Ok(()); // no date to post it in: nothing the range can book
    };
    let fresh = had.is_empty();
    if !fresh {
        note_already(&mut plan.already, b, docs);
    }
    let diffs = differences(&had, &want);
    for ((invoice, c), dh, da) in diffs.iter().cloned() {
        let was_booked = had.keys().any(|(n, _)| *n == invoice);
        let k = IssuedKey {
            month: at,
            invoice: invoice.clone(),
            contract: c,
        };
        let target = if was_booked {
            &mut plan.corrections
        } else {
            &mut plan.issued
        };
        let w = target.entry(k).or_default();
        w.actions += 1;
        crate::fold::base::add(&mut w.hours_ms, dh, "chargeable_hours")?;
        crate::fold::base::add(&mut w.amount_cents, da, "chargeable_amount")?;
        plan.contributions.push(Contribution {
            share: who.share((c, None), dh, da),
            corrects: was_booked.then(|| invoice.clone()),
            invoice: Some(invoice),
        });
    }
    if !fresh && !diffs.is_empty() {
        let new = now.map(|n| (n.contract, n.hours_ms, n.amount_cents));
        plan.changed.push(changed(who.key, b, new));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_work_differs_by_money_and_new_work_by_hours_or_money() {
        let m = |cells: &[(Cell, (i64, i64))]| -> BTreeMap<Cell, (i64, i64)> {
            cells.iter().copied().collect()
        };
        let a = (Some(101), Some(2));
        let b = (Some(102), Some(2));
        // Exported, then re-timed in Halo without a change of amount: nothing to bill.
        assert!(
            differences(&m(&[(a, (3_600_000, 9000))]), &m(&[(a, (3_600_120, 9000))])).is_empty()
        );
        // Re-priced: the difference, hours included.
        assert_eq!(
            differences(&m(&[(a, (3_600_000, 9000))]), &m(&[(a, (3_600_120, 9500))])),
            vec![(a, 120, 500)]
        );
        // Moved to another contract: credited on the old, billed on the new.
        assert_eq!(
            differences(&m(&[(a, (60, 9000))]), &m(&[(b, (60, 9000))])),
            vec![(a, -60, -9000), (b, 60, 9000)]
        );
        // Never exported: hours alone are work to bill (a line of its own).
        assert_eq!(differences(&m(&[]), &m(&[(a, (60, 0))])), vec![(a, 60, 0)]);
    }
}
