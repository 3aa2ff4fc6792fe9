//! What the export register says was billed (or booked), action by action, set against
//! what the store holds now: the basis of every export (work already exported is left
//! out, changed work is corrected) and of `report unbilled`'s `exported_amount`.

use super::error::ReportError;
use super::select;
use crate::fold::base;
use crate::frame::col;
use crate::period::Period;
use crate::store::Store;
use crate::store::register::{Line, ledger_of};
use std::collections::{BTreeMap, HashMap};

/// One action of a period as the exports see it (exact integer units).
#[derive(Debug, Clone)]
pub struct ActionRow {
    /// `(ticket_id, id)`.
    pub key: (i64, i64),
    /// Its content hash.
    pub content_hash: i64,
    /// Its datetime (UTC nanoseconds).
    pub datetime: Option<i64>,
    /// Contract (`None`: none).
    pub contract: Option<i64>,
    /// Contract reference.
    pub contract_ref: String,
    /// Halo's invoice number, when it has one (not empty).
    pub invoice_number: Option<String>,
    /// Whether Halo invoiced it (a number or an invoice id above zero).
    pub invoiced: bool,
    /// Halo's charge rate.
    pub charge_rate: Option<i64>,
    /// Chargeable hours, ms.
    pub hours_ms: i64,
    /// Chargeable amount, cents.
    pub amount_cents: i64,
}

impl ActionRow {
    /// Chargeable work not yet invoiced in Halo (the `report unbilled` selection).
    pub fn unbilled(&self) -> bool {
        !self.invoiced && (self.hours_ms > 0 || self.amount_cents > 0)
    }
}

/// Every action of `period` (closes honoured), in no particular order.
pub fn action_rows(store: &Store, period: &Period) -> Result<Vec<ActionRow>, ReportError> {
    let (parts, _) = select::parts(store, period)?;
    let cols = [
        col::TICKET_ID,
        col::ID,
        col::CONTENT_HASH,
        col::CONTRACT_ID,
        col::CONTRACT_REF,
        col::INVOICE_NUMBER,
        col::INVOICE_ID,
        "chargerate",
        "actionchargehours_ms",
        "actionchargeamount_cents",
    ];
    let mut out = Vec::new();
    select::for_each_frame(store, &parts, &cols, |df| {
        let tid = base::ints(df, col::TICKET_ID)?;
        let id = base::ints(df, col::ID)?;
        let hash = base::ints(df, col::CONTENT_HASH)?;
        let cid = base::ints(df, col::CONTRACT_ID)?;
        let cref = base::texts(df, col::CONTRACT_REF)?;
        let inum = base::texts(df, col::INVOICE_NUMBER)?;
        let iid = base::ints(df, col::INVOICE_ID)?;
        let rate = base::ints(df, "chargerate")?;
        let h = base::units(df, "actionchargehours_ms")?;
        let a = base::units(df, "actionchargeamount_cents")?;
        let dt = base::datetimes(df)?;
        out.reserve(df.height());
        for i in 0..df.height() {
            out.push(ActionRow {
                key: (tid[i].unwrap_or_default(), id[i].unwrap_or_default()),
                content_hash: hash[i].unwrap_or_default(),
                datetime: dt[i],
                contract: cid[i],
                contract_ref: cref[i].unwrap_or_default().to_string(),
                invoice_number: inum[i].filter(|n| !n.trim().is_empty()).map(str::to_string),
                invoiced: base::invoiced(inum[i], iid[i]),
                charge_rate: rate[i],
                hours_ms: h[i],
                amount_cents: a[i],
            });
        }
        Ok(())
    })?;
    Ok(out)
}

/// One action's entries in the active exports of one register, in the order recorded.
#[derive(Debug, Clone, Default)]
pub struct Billed {
    /// Its lines (contract, rate, hours, amount, document).
    pub lines: Vec<Line>,
}

impl Billed {
    /// The net billed per `(contract, charge rate)`: (hours ms, amount cents); entries
    /// that net to nothing are left out.
    pub fn net(&self, by_rate: bool) -> BTreeMap<(Option<i64>, Option<i64>), (i64, i64)> {
        let mut m: BTreeMap<(Option<i64>, Option<i64>), (i64, i64)> = BTreeMap::new();
        for l in &self.lines {
            let rate = if by_rate { l.charge_rate } else { None };
            let e = m.entry((l.contract, rate)).or_default();
            e.0 += l.hours_ms;
            e.1 += l.amount_cents;
        }
        m.retain(|_, v| *v != (0, 0));
        m
    }

    /// The net amount billed, cents.
    pub fn amount(&self) -> i64 {
        self.lines.iter().map(|l| l.amount_cents).sum()
    }

    /// The document that first billed this action on `contract`: what a correction
    /// names (a second correction names the original too, not the first correction).
    pub fn document_for(&self, contract: Option<i64>) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| l.contract == contract)
            .map(|l| l.document.as_str())
    }

    /// The datetime recorded last.
    pub fn datetime(&self) -> Option<i64> {
        self.lines.iter().rev().find_map(|l| l.datetime)
    }
}

/// Every action's entries in one register's active exports (`sales` or `bookings`).
pub fn ledger(store: &Store, which: &str) -> Result<HashMap<(i64, i64), Billed>, ReportError> {
    let mut out: HashMap<(i64, i64), Billed> = HashMap::new();
    for rec in store.register()?.exports {
        if !rec.active() || ledger_of(&rec.kind) != which {
            continue;
        }
        for l in store.export_lines(rec.seq)? {
            out.entry(l.key).or_default().lines.push(l);
        }
    }
    Ok(out)
}

/// For `report unbilled`: of each contract's unbilled chargeable amount in `period`, how
/// much is already on an export (the billed net of its actions on that contract); `None`
/// when no export is recorded (no pass over the rows is made then). The pass reads the
/// key, contract and invoice columns of the files whose ticket range holds an exported
/// action's ticket (the others cannot hold one), and looks at no other row.
pub fn exported_by_contract(
    store: &Store,
    period: &Period,
) -> Result<Option<BTreeMap<Option<i64>, i64>>, ReportError> {
    let billed = ledger(store, "sales")?;
    if billed.is_empty() {
        return Ok(None);
    }
    let mut tickets: Vec<i64> = billed.keys().map(|k| k.0).collect();
    tickets.sort_unstable();
    tickets.dedup();
    let holds_one = |(lo, hi): (i64, i64)| {
        let i = tickets.partition_point(|t| *t < lo);
        tickets.get(i).is_some_and(|t| *t <= hi)
    };
    let (parts, _) = select::parts(store, period)?;
    let parts: Vec<select::Part> = parts
        .into_iter()
        .filter(|p| p.file.tickets.is_none_or(holds_one))
        .collect();
    let cols = [
        col::TICKET_ID,
        col::ID,
        col::CONTRACT_ID,
        col::INVOICE_NUMBER,
        col::INVOICE_ID,
        "actionchargehours_ms",
        "actionchargeamount_cents",
    ];
    let mut out: BTreeMap<Option<i64>, i64> = BTreeMap::new();
    select::for_each_frame(store, &parts, &cols, |df| {
        let tid = base::ints(df, col::TICKET_ID)?;
        let id = base::ints(df, col::ID)?;
        let cid = base::ints(df, col::CONTRACT_ID)?;
        let inum = base::texts(df, col::INVOICE_NUMBER)?;
        let iid = base::ints(df, col::INVOICE_ID)?;
        let h = base::units(df, "actionchargehours_ms")?;
        let a = base::units(df, "actionchargeamount_cents")?;
        for i in 0..df.height() {
            let key = (tid[i].unwrap_or_default(), id[i].unwrap_or_default());
            let Some(b) = billed.get(&key) else {
                continue;
            };
            if base::invoiced(inum[i], iid[i]) || (h[i] <= 0 && a[i] <= 0) {
                continue; // not unbilled work now
            }
            let on_contract: i64 = b
                .lines
                .iter()
                .filter(|l| l.contract == cid[i])
                .map(|l| l.amount_cents)
                .sum();
            if on_contract != 0 {
                base::add(
                    out.entry(cid[i]).or_default(),
                    on_contract,
                    "exported_amount",
                )?;
            }
        }
        Ok(())
    })?;
    Ok(Some(out))
}
