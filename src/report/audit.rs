//! `report audit`: Halo's invoices set against the actions that name them.
//!
//! One row per Halo invoice dated in the period (recurring-invoice templates, whose ids
//! are negative, are not invoices and are counted in a note), and one per invoice that
//! actions of the period name but Halo never returned. For each: `lines_amount`, the
//! exact sum of `net_amount` over the invoice's lines that carry a `ticket_id` (time
//! lines; fixed fees and products are not time); `actions` and `actions_amount`, the
//! count and exact sum of `actionchargeamount` of every stored action that names the
//! invoice (by `invoice_id`, else by `actioninvoicenumber` matched against Halo's
//! invoice numbers, then ids), whatever its date; `difference` = lines - actions.
//!
//! `finding`, the most serious that applies:
//! - `missing`: actions of the period name an invoice no sync or import ever returned;
//! - `voided`: Halo voided the invoice and actions still name it;
//! - `exported-and-invoiced`: an action on the invoice was also exported by us (the
//!   export register's sales ledger bills it): billed twice;
//! - `lines-differ`: the time lines do not add up to the actions;
//! - `ok`.
//!
//! A period whose close froze Halo's records is audited against the records as they
//! were at the close.

use super::billed;
use super::error::ReportError;
use super::select;
use super::sheet::{Column, Kind, Scope, Sheet};
use crate::exact;
use crate::fold::base::{self, add};
use crate::frame::col;
use crate::period::Period;
use crate::records::{Stored, Table};
use crate::store::Store;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};

/// The findings, in order of seriousness (most serious first).
pub const FINDINGS: [&str; 5] = [
    "missing",
    "voided",
    "exported-and-invoiced",
    "lines-differ",
    "ok",
];

/// What the actions say of one invoice.
#[derive(Default)]
struct Named {
    actions: u64,
    amount: i64,
    in_period: u64,
    exported: u64,
    numbers: BTreeMap<String, u64>,
}

/// Which invoice an action names: Halo's id, or a number Halo never returned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Ref {
    Id(i64),
    Number(String),
}

/// The calendar day of a Halo date (stored as UTC midnight of the day Halo gave).
fn day_of(ns: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_nanos(ns).date_naive()
}

/// `report audit` (see the module doc). `findings_only` leaves out the `ok` rows (the
/// totals are of the rows shown).
pub fn audit(store: &Store, period: &Period, findings_only: bool) -> Result<Sheet, ReportError> {
    let (_, closes) = select::parts(store, period)?;
    let frozen = closes
        .iter()
        .find(|c| c.from_ns == period.from_ns && c.to_ns == period.to_ns && !c.records.is_empty());
    let tables = [Table::Invoices, Table::InvoiceLines];
    let records: Stored = match frozen {
        Some(c) => store.records_of_close(c, &tables)?,
        None => store.records(&tables)?,
    };
    if !records.has(Table::Invoices) {
        return Err(ReportError::Input(format!(
            "the store holds no invoices from Halo, so there is nothing to audit against (an audit never says \"ok\" of what it did not check). \
             Fetch them: `halo-billing sync --period {}` (it syncs invoices with the actions), or import saved answers of GET /api/Invoice?includelines=true",
            period.label
        )));
    }
    let it = Table::Invoices;
    let (iid, inum, icust, idate, ivoid, iposted) = (
        it.at("id"),
        it.at("invoicenumber"),
        it.at("client_name"),
        it.at("invoice_date"),
        it.at("voided"),
        it.at("posted"),
    );
    let invoices = records.rows(it);
    let by_number: HashMap<&str, i64> = invoices
        .iter()
        .filter_map(|r| Some((r[inum].text(), r[iid].int()?)))
        .filter(|(n, _)| !n.trim().is_empty())
        .collect();
    let known: HashMap<i64, &crate::records::Row> = invoices
        .iter()
        .filter_map(|r| Some((r[iid].int()?, r)))
        .collect();
    // The period's calendar days in its zone.
    let local_day = |ns: i64| chrono::TimeZone::timestamp_nanos(&period.timezone, ns).date_naive();
    let (first_day, end_day) = (local_day(period.from_ns), local_day(period.to_ns));
    let in_period = |d: NaiveDate| first_day <= d && d < end_day;
    // Time lines per invoice.
    let lt = Table::InvoiceLines;
    let (lihid, lticket, lnet) = (lt.at("ihid"), lt.at("ticket_id"), lt.at("net_amount_cents"));
    let mut lines: HashMap<i64, i64> = HashMap::new();
    for l in records.rows(lt) {
        if let (Some(h), Some(_)) = (l[lihid].int(), l[lticket].int()) {
            add(
                lines.entry(h).or_default(),
                l[lnet].int().unwrap_or(0),
                "lines_amount",
            )?;
        }
    }
    // Every stored action that names an invoice.
    let sales = billed::ledger(store, "sales")?;
    let everything = Period {
        from_ns: i64::MIN,
        to_ns: i64::MAX,
        ..period.clone()
    };
    let (parts, _) = select::parts(store, &everything)?;
    let mut named: BTreeMap<Ref, Named> = BTreeMap::new();
    let cols = [
        col::TICKET_ID,
        col::ID,
        col::INVOICE_NUMBER,
        col::INVOICE_ID,
        "actionchargeamount_cents",
    ];
    select::for_each_frame(store, &parts, &cols, |df| {
        let tid = base::ints(df, col::TICKET_ID)?;
        let id = base::ints(df, col::ID)?;
        let number = base::texts(df, col::INVOICE_NUMBER)?;
        let inv = base::ints(df, col::INVOICE_ID)?;
        let amount = base::units(df, "actionchargeamount_cents")?;
        let dt = base::datetimes(df)?;
        for i in 0..df.height() {
            let n = number[i].map(str::trim).filter(|n| !n.is_empty());
            let r = match (inv[i].filter(|v| *v > 0), n) {
                (Some(v), _) => Ref::Id(v),
                (None, Some(n)) => match by_number.get(n) {
                    Some(&v) => Ref::Id(v),
                    None => match n.parse::<i64>().ok().filter(|v| known.contains_key(v)) {
                        Some(v) => Ref::Id(v),
                        None => Ref::Number(n.to_string()),
                    },
                },
                (None, None) => continue,
            };
            let e = named.entry(r).or_default();
            e.actions += 1;
            add(&mut e.amount, amount[i], "actions_amount")?;
            if dt[i].is_some_and(|t| period.from_ns <= t && t < period.to_ns) {
                e.in_period += 1;
            }
            let key = (tid[i].unwrap_or_default(), id[i].unwrap_or_default());
            if sales.get(&key).is_some_and(|b| b.amount() != 0) {
                e.exported += 1;
            }
            if let Some(n) = n {
                *e.numbers.entry(n.to_string()).or_default() += 1;
            }
        }
        Ok(())
    })?;
    let empty = Named::default();
    let mut rows: Vec<(NaiveDate, Vec<String>)> = Vec::new();
    let mut templates = 0;
    let mut tally: BTreeMap<&str, u64> = BTreeMap::new();
    let mut totals = (0i64, 0u64, 0i64, 0i64);
    let mut push = |date: Option<NaiveDate>,
                    cells: [String; 5],
                    lines_amount: i64,
                    n: &Named,
                    finding: &'static str|
     -> Result<(), ReportError> {
        *tally.entry(finding).or_default() += 1;
        if findings_only && finding == "ok" {
            return Ok(());
        }
        let difference = lines_amount
            .checked_sub(n.amount)
            .ok_or(crate::aggregate::Overflow {
                measure: "difference",
            })?;
        add(&mut totals.0, lines_amount, "lines_amount")?;
        totals.1 += n.actions;
        add(&mut totals.2, n.amount, "actions_amount")?;
        add(&mut totals.3, difference, "difference")?;
        let [id, number, customer, day, status] = cells;
        rows.push((
            date.unwrap_or(NaiveDate::MAX),
            vec![
                id,
                number,
                customer,
                day,
                status,
                exact::format_money(lines_amount),
                n.actions.to_string(),
                exact::format_money(n.amount),
                exact::format_money(difference),
                finding.to_string(),
            ],
        ));
        Ok(())
    };
    for r in invoices {
        let Some(id) = r[iid].int() else { continue };
        let Some(day) = r[idate].int().map(day_of) else {
            continue;
        };
        if !in_period(day) {
            continue;
        }
        if id < 0 {
            templates += 1;
            continue;
        }
        let n = named.get(&Ref::Id(id)).unwrap_or(&empty);
        let lines_amount = lines.get(&id).copied().unwrap_or(0);
        let voided = r[ivoid].flag() == Some(true);
        let finding = if voided && n.actions > 0 {
            "voided"
        } else if n.exported > 0 {
            "exported-and-invoiced"
        } else if lines_amount != n.amount {
            "lines-differ"
        } else {
            "ok"
        };
        let status = if voided {
            "voided"
        } else if r[iposted].flag() == Some(true) {
            "posted"
        } else {
            "not posted"
        };
        push(
            Some(day),
            [
                id.to_string(),
                r[inum].text().to_string(),
                r[icust].text().to_string(),
                day.format("%Y-%m-%d").to_string(),
                status.to_string(),
            ],
            lines_amount,
            n,
            finding,
        )?;
    }
    // Invoices actions of the period name that Halo never returned.
    for (r, n) in &named {
        if n.in_period == 0 {
            continue;
        }
        let (id, number) = match r {
            Ref::Id(v) if known.contains_key(v) => continue,
            Ref::Id(v) => (
                v.to_string(),
                n.numbers
                    .iter()
                    .max_by_key(|(k, c)| (**c, std::cmp::Reverse(k.as_str())))
                    .map(|(k, _)| k.clone())
                    .unwrap_or_default(),
            ),
            Ref::Number(s) => (String::new(), s.clone()),
        };
        push(
            None,
            [
                id,
                number,
                String::new(),
                String::new(),
                "not in Halo".into(),
            ],
            0,
            n,
            "missing",
        )?;
    }
    rows.sort_by(|a, b| {
        (a.0, a.1[1].as_str(), a.1[0].as_str()).cmp(&(b.0, b.1[1].as_str(), b.1[0].as_str()))
    });
    let columns = vec![
        Column::new("invoice_id", Kind::Id).key(),
        Column::new("invoice_number", Kind::Text).key(),
        Column::new("customer", Kind::Text),
        Column::new("invoice_date", Kind::Date),
        Column::new("status", Kind::Text),
        Column::new("lines_amount", Kind::Money),
        Column::new("actions", Kind::Count),
        Column::new("actions_amount", Kind::Money),
        Column::new("difference", Kind::Money),
        Column::new("finding", Kind::Text),
    ];
    let title = format!(
        "Invoice audit, {} ({}): Halo's invoice lines against the actions that name them",
        period.label,
        period.timezone.name()
    );
    let mut sheet = Sheet::new("audit", title, columns, Scope::new(period, closes.clone()));
    let checked: u64 = tally.values().sum();
    sheet.rows = rows.into_iter().map(|(_, r)| r).collect();
    if checked == 0 {
        sheet.notes.push(format!(
            "no invoices: Halo returned none dated in {} and no action of the period names one; nothing was checked, and nothing is found",
            period.label
        ));
    } else {
        sheet.total = Some(vec![
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            exact::format_money(totals.0),
            totals.1.to_string(),
            exact::format_money(totals.2),
            exact::format_money(totals.3),
            String::new(),
        ]);
        let said: Vec<String> = FINDINGS
            .iter()
            .filter_map(|f| tally.get(f).map(|n| format!("{n} {f}")))
            .collect();
        sheet.notes.push(format!(
            "{checked} invoice(s) checked: {}{}",
            said.join(", "),
            if findings_only {
                " (ok rows not shown)"
            } else {
                ""
            }
        ));
    }
    if templates > 0 {
        sheet.notes.push(format!(
            "{templates} recurring-invoice template(s) (negative ids) dated in the period are not invoices and were not audited"
        ));
    }
    sheet.notes.push(match frozen {
        Some(c) => format!(
            "Halo's invoices as they were at the close of {} ({}, {})",
            c.period, c.timezone, c.closed_at
        ),
        None => format!(
            "Halo's invoices as last synced or imported ({}); `missing` means no sync or import ever returned the invoice: sync the months its work may be invoiced in before acting on it",
            records.committed_at.as_deref().unwrap_or("never")
        ),
    });
    sheet.notes.push(
        "lines_amount: the invoice's lines that carry a ticket (time); actions_amount: every stored action naming the invoice, \
         whatever its date; `report actions --invoice NUMBER` lists those of a period"
            .into(),
    );
    Ok(sheet)
}
