//! `report prepay`: how prepaid (block) hours burn down, per contract and month, and,
//! with a balances file of purchases, top-ups and expiries, what remains of each block
//! and whether it is running low or overdrawn.
//!
//! The balances file is CSV with the header `contract_id,date,hours,amount`: one line
//! per purchase or top-up (positive) or expiry (negative), `date` as `YYYY-MM-DD` in the
//! report's time zone; hours and money are read exactly. An example is
//! `reports/prepay-balances.example.csv`.
//!
//! With balances, the draws counted against a block are all the prepay hours and amounts
//! the store holds for the contract up to each month's end (not only the report's
//! range), so `remaining` is purchases minus every draw so far. Status: `overdrawn` when
//! remaining hours or amount are below zero, `low` when remaining hours are below the
//! `--low-below` share of the hours purchased (default 20%, an 80% burn alert), else `ok`.
//! A contract without any line in the balances file shows its draws with the balance
//! columns empty.
//!
//! Without a balances file, the purchases come from Halo's prepay records when the store
//! holds them (`sync` fetches them), and each block's last row of the period shows
//! Halo's own balance beside ours and the difference ([`from_halo`]). A block bought
//! before the time the store covers is `incomplete`: not every draw on it is known.

use super::error::ReportError;
use super::footers;
use super::select;
use super::sheet::{Chart, Column, Kind, Scope, Sheet};
use crate::aggregate::Overflow;
use crate::exact;
use crate::fold::base::{add, most_common};
use crate::fold::prepay::{self as fold, Drawn, DrawnList};
use crate::period::Period;
use crate::store::Store;
use chrono::{Datelike, TimeZone};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One line of the balances file.
#[derive(Debug, Clone)]
pub struct Balance {
    /// The contract.
    pub contract_id: i64,
    /// When (UTC nanoseconds of local midnight).
    pub at_ns: i64,
    /// Hours, in ms (negative: an expiry).
    pub hours_ms: i64,
    /// Money, in cents.
    pub amount_cents: i64,
}

/// Reads a balances file; every bad line is an error naming the file, line and value.
pub fn read_balances(path: &Path, period: &Period) -> Result<Vec<Balance>, ReportError> {
    let bad = |line: u64, reason: String| {
        ReportError::Input(format!(
            "balances file `{}`, line {line}: {reason}",
            path.display()
        ))
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| bad(0, e.to_string()))?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header != ["contract_id", "date", "hours", "amount"] {
        return Err(bad(
            1,
            format!(
                "the header is `{}`, expected `contract_id,date,hours,amount`",
                header.join(",")
            ),
        ));
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        let field = |k: usize| rec.get(k).unwrap_or("").trim().to_string();
        let contract_id: i64 = field(0).parse().map_err(|_| {
            bad(
                line,
                format!("contract_id `{}` is not a whole number", field(0)),
            )
        })?;
        let date = chrono::NaiveDate::parse_from_str(&field(1), "%Y-%m-%d").map_err(|_| {
            bad(
                line,
                format!("date `{}` is not a date like 2026-10-01", field(1)),
            )
        })?;
        let at_ns = period
            .timezone
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .and_then(|t| t.timestamp_nanos_opt())
            .ok_or_else(|| {
                bad(
                    line,
                    format!("date `{}` cannot be placed in time", field(1)),
                )
            })?;
        let number = |k: usize, per: i64, what: &str| -> Result<i64, ReportError> {
            exact::parse_units(&field(k), per)
                .map_err(|e| bad(line, format!("{what} `{}`: {e}", field(k))))?
                .ok_or_else(|| bad(line, format!("{what} is empty")))
        };
        out.push(Balance {
            contract_id,
            at_ns,
            hours_ms: number(2, exact::MS_PER_HOUR, "hours")?,
            amount_cents: number(3, exact::CENTS_PER_UNIT, "amount")?,
        });
    }
    Ok(out)
}

/// The prepay purchases Halo holds (its `GET /api/ClientPrepay` records in the store),
/// and its own balance of each block contract.
#[derive(Debug, Clone, Default)]
pub struct FromHalo {
    /// The purchases, as balances-file lines.
    pub purchases: Vec<Balance>,
    /// Per contract: Halo's remaining balance, `(hours ms, amount cents)`, one of them
    /// set as `contract_prepayasamount` says.
    pub remaining: BTreeMap<i64, (Option<i64>, Option<i64>)>,
    /// When the records were committed.
    pub synced_at: String,
    /// Purchases that could not be put on a contract (no `contract_id`, and their
    /// client has no single prepay contract), said in a warning each.
    pub unassigned: Vec<String>,
}

/// Halo's prepay records in the store, if it holds any (`None`: the store has none, so
/// the report shows draws only unless a balances file is given).
pub fn from_halo(store: &Store, period: &Period) -> Result<Option<FromHalo>, ReportError> {
    use crate::records::Table;
    let records = store.records(&[Table::Contracts, Table::Prepay])?;
    if !records.has(Table::Prepay) {
        return Ok(None);
    }
    let ct = Table::Contracts;
    let (cid, cclient, callow, camount, chours, ccents) = (
        ct.at("id"),
        ct.at("client_id"),
        ct.at("allowprepay"),
        ct.at("contract_prepayasamount"),
        ct.at("contract_prepaybalance_ms"),
        ct.at("contract_prepaybalance_cents"),
    );
    let mut out = FromHalo {
        synced_at: records.committed_at.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut prepay_contracts: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in records.rows(ct) {
        let Some(id) = r[cid].int() else { continue };
        if r[callow].flag() == Some(true) {
            if let Some(client) = r[cclient].int() {
                prepay_contracts.entry(client).or_default().push(id);
            }
            let as_amount = r[camount].flag() == Some(true);
            out.remaining.insert(
                id,
                if as_amount {
                    (None, r[ccents].int())
                } else {
                    (r[chours].int(), None)
                },
            );
        }
    }
    let pt = Table::Prepay;
    let (pid, pclient, pcontract, pdate, phours, pamount) = (
        pt.at("id"),
        pt.at("client_id"),
        pt.at("contract_id"),
        pt.at("date"),
        pt.at("hours_ms"),
        pt.at("amount_cents"),
    );
    for r in records.rows(pt) {
        let id = r[pid].int().unwrap_or_default();
        let contract = r[pcontract].int().or_else(|| {
            match r[pclient]
                .int()
                .and_then(|c| prepay_contracts.get(&c))
                .map(Vec::as_slice)
            {
                Some([one]) => Some(*one),
                _ => None,
            }
        });
        let Some(contract_id) = contract else {
            out.unassigned.push(format!(
                "Halo's prepay record {id} names no contract and its client has no single prepay contract: it is not counted in any block"
            ));
            continue;
        };
        // Halo's date is a calendar day (and time) with no zone: placed in the report's zone.
        let Some(at_ns) = r[pdate].int().and_then(|ns| {
            let naive = chrono::DateTime::from_timestamp_nanos(ns).naive_utc();
            period
                .timezone
                .from_local_datetime(&naive)
                .earliest()
                .and_then(|t| t.timestamp_nanos_opt())
        }) else {
            out.unassigned.push(format!(
                "Halo's prepay record {id} has no purchase date: it is not counted in any block"
            ));
            continue;
        };
        out.purchases.push(Balance {
            contract_id,
            at_ns,
            hours_ms: r[phours].int().unwrap_or(0),
            amount_cents: r[pamount].int().unwrap_or(0),
        });
    }
    Ok(Some(out))
}

/// The first purchase in `balances` before the end of `period`, when it is before the
/// period: the figures then depend on the store's history from it (a balance counts
/// every draw since the block was bought).
pub fn first_purchase(balances: Option<&[Balance]>, period: &Period) -> Option<i64> {
    balances
        .into_iter()
        .flatten()
        .filter(|b| b.at_ns < period.to_ns)
        .map(|b| b.at_ns)
        .min()
        .filter(|&f| f < period.from_ns)
}

/// `report prepay` (see the module doc). `low_below` is in per mille of the purchased
/// hours.
pub fn prepay(
    store: &Store,
    period: &Period,
    balances: Option<&[Balance]>,
    halo: Option<&FromHalo>,
    low_below_per_mille: i64,
) -> Result<Sheet, ReportError> {
    let local_month = |ns: i64| {
        let d = period.timezone.timestamp_nanos(ns).date_naive();
        (d.year(), d.month())
    };
    // With balances, every draw so far counts: read from the store's beginning.
    let read_from = if balances.is_some() {
        i64::MIN
    } else {
        period.from_ns
    };
    // With Halo's balances (which are as of now), every draw the store holds counts.
    let reading = Period {
        from_ns: read_from,
        to_ns: if halo.is_some() {
            i64::MAX
        } else {
            period.to_ns
        },
        ..period.clone()
    };
    let (parts, closes) = select::parts(store, &reading)?;
    let states = select::fold_parts(
        store,
        &parts,
        &fold::COLUMNS,
        |d: &mut Drawn, p| {
            // A file's summary is by its UTC month: it applies when that is also the
            // local month of all its rows (a zone at UTC+0 on both edges).
            let (mf, mt) = crate::store::month_bounds(p.file.month());
            if local_month(mf) != p.file.month() || local_month(mt - 1) != p.file.month() {
                return Ok(false);
            }
            let Some(list) = footers::of_whole_part::<DrawnList>(store, p, fold::FOOTER)? else {
                return Ok(false);
            };
            d.merge(list)?;
            Ok(true)
        },
        |d, df| Ok(fold::fold(d, df, &local_month)?),
    )?;
    let mut all = Drawn::default();
    for s in states {
        all.merge(s.into_list())?;
    }
    let Drawn { by: drawn, refs } = all;
    // The months of the range, in order.
    let mut months = Vec::new();
    let (mut y, mut m) = local_month(period.from_ns);
    let last = local_month(period.to_ns - 1);
    while (y, m) <= last {
        months.push((y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    let month_end = |(y, m): (i32, u32)| -> i64 {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        period
            .timezone
            .with_ymd_and_hms(ny, nm, 1, 0, 0, 0)
            .earliest()
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(i64::MAX)
    };
    let in_range: BTreeSet<(i32, u32)> = months.iter().copied().collect();
    let mut contracts: BTreeSet<i64> = drawn
        .iter()
        .filter(|(_, by)| by.keys().any(|k| in_range.contains(k)))
        .map(|(c, _)| *c)
        .collect();
    if let Some(b) = balances {
        contracts.extend(b.iter().map(|x| x.contract_id));
    }
    // A block bought before what the store covers: its draws since then are not all
    // known, so its balance is not stated as ok, low or overdrawn.
    let mut incomplete: BTreeMap<i64, bool> = BTreeMap::new();
    if let Some(b) = balances {
        let mut first: BTreeMap<i64, i64> = BTreeMap::new();
        for x in b.iter().filter(|x| x.at_ns < period.to_ns) {
            let f = first.entry(x.contract_id).or_insert(x.at_ns);
            *f = (*f).min(x.at_ns);
        }
        let mut known: BTreeMap<i64, bool> = BTreeMap::new();
        for (c, f) in first {
            let gap = match known.get(&f) {
                Some(g) => *g,
                None => {
                    // The history before the period (a gap in the period itself is the
                    // coverage line's, as for every report).
                    let g = f < period.from_ns
                        && !super::coverage::gaps(store, f, period.from_ns)?.is_empty();
                    known.insert(f, g);
                    g
                }
            };
            incomplete.insert(c, gap);
        }
    }
    let last_month = *months.last().expect("a period has a month");
    let mut rows = Vec::new();
    let mut total = (0i64, 0i64);
    for c in contracts {
        let by = drawn.get(&c);
        let cref = refs.get(&c).map(most_common).unwrap_or_default();
        // Draws before the range start the running totals when balances are given.
        let mut running = (0i64, 0i64);
        if balances.is_some() {
            for (k, v) in by.into_iter().flatten() {
                if *k < months[0] {
                    add(&mut running.0, v.0, "prepay_hours")?;
                    add(&mut running.1, v.1, "prepay_amount")?;
                }
            }
        }
        for &mo in &months {
            let d = by.and_then(|b| b.get(&mo)).copied().unwrap_or((0, 0));
            add(&mut running.0, d.0, "prepay_hours")?;
            add(&mut running.1, d.1, "prepay_amount")?;
            add(&mut total.0, d.0, "prepay_hours")?;
            add(&mut total.1, d.1, "prepay_amount")?;
            let mut r = vec![
                c.to_string(),
                cref.clone(),
                format!("{:04}-{:02}", mo.0, mo.1),
                exact::format_hours(d.0),
                exact::format_money(d.1),
                exact::format_hours(running.0),
                exact::format_money(running.1),
            ];
            if let Some(b) = balances.filter(|b| !b.iter().any(|x| x.contract_id == c)) {
                // No line for this contract in the balances file: no balance to show.
                let _ = b;
                r.extend(std::iter::repeat_n(
                    String::new(),
                    if halo.is_some() { 9 } else { 5 },
                ));
            } else if let Some(b) = balances {
                let end = month_end(mo);
                let mut bought = (0i64, 0i64);
                for x in b.iter().filter(|x| x.contract_id == c && x.at_ns < end) {
                    add(&mut bought.0, x.hours_ms, "purchased_hours")?;
                    add(&mut bought.1, x.amount_cents, "purchased_amount")?;
                }
                let left = (
                    bought.0.checked_sub(running.0).ok_or(Overflow {
                        measure: "remaining_hours",
                    })?,
                    bought.1.checked_sub(running.1).ok_or(Overflow {
                        measure: "remaining_amount",
                    })?,
                );
                let status = if incomplete.get(&c) == Some(&true) {
                    "incomplete"
                } else if left.0 < 0 || left.1 < 0 {
                    "overdrawn"
                } else if i128::from(left.0) * 1000
                    < i128::from(bought.0) * i128::from(low_below_per_mille)
                {
                    "low"
                } else {
                    "ok"
                };
                r.extend([
                    exact::format_hours(bought.0),
                    exact::format_money(bought.1),
                    exact::format_hours(left.0),
                    exact::format_money(left.1),
                    status.to_string(),
                ]);
                if let Some(h) = halo {
                    let theirs = h.remaining.get(&c).copied().unwrap_or((None, None));
                    let shown = mo == last_month && theirs != (None, None);
                    // Ours as Halo's is: every purchase and every draw the store holds.
                    let mut now = (0i64, 0i64);
                    for x in b.iter().filter(|x| x.contract_id == c) {
                        add(&mut now.0, x.hours_ms, "purchased_hours")?;
                        add(&mut now.1, x.amount_cents, "purchased_amount")?;
                    }
                    for v in by.into_iter().flat_map(|m| m.values()) {
                        add(&mut now.0, -v.0, "remaining_hours")?;
                        add(&mut now.1, -v.1, "remaining_amount")?;
                    }
                    let diff = |ours: i64, t: Option<i64>| t.map(|t| ours - t);
                    let (dh, da) = (diff(now.0, theirs.0), diff(now.1, theirs.1));
                    let cell = |v: Option<i64>, f: fn(i64) -> String| {
                        v.filter(|_| shown).map(f).unwrap_or_default()
                    };
                    r.extend([
                        cell(theirs.0, exact::format_hours),
                        cell(theirs.1, exact::format_money),
                        cell(dh, exact::format_hours),
                        cell(da, exact::format_money),
                    ]);
                }
            } else if halo.is_some() {
                r.extend(std::iter::repeat_n(String::new(), 4));
            }
            rows.push(r);
        }
    }
    let mut columns = vec![
        Column::new("contract_id", Kind::Id).key(),
        Column::new("contract_ref", Kind::Text),
        Column::new("month", Kind::Text).key(),
        Column::new("prepay_hours", Kind::Hours),
        Column::new("prepay_amount", Kind::Money),
        Column::new("running_hours", Kind::Hours),
        Column::new("running_amount", Kind::Money),
    ];
    let mut t = vec![
        String::new(),
        String::new(),
        String::new(),
        exact::format_hours(total.0),
        exact::format_money(total.1),
        String::new(),
        String::new(),
    ];
    if balances.is_some() {
        columns.extend([
            Column::new("purchased_hours", Kind::Hours),
            Column::new("purchased_amount", Kind::Money),
            Column::new("remaining_hours", Kind::Hours),
            Column::new("remaining_amount", Kind::Money),
            Column::new("status", Kind::Text),
        ]);
        t.extend(std::iter::repeat_n(String::new(), 5));
    }
    if halo.is_some() {
        columns.extend([
            Column::new("halo_remaining_hours", Kind::Hours),
            Column::new("halo_remaining_amount", Kind::Money),
            Column::new("difference_hours", Kind::Hours),
            Column::new("difference_amount", Kind::Money),
        ]);
        t.extend(std::iter::repeat_n(String::new(), 4));
    }
    let title = format!(
        "Prepaid blocks, {} ({}){}",
        period.label,
        period.timezone.name(),
        if balances.is_some() {
            format!(
                "; low below {}.{}% of the hours purchased",
                low_below_per_mille / 10,
                low_below_per_mille % 10
            )
        } else {
            String::new()
        }
    );
    // The closes of the period itself (those before it, read for the balances, are not
    // what the figures are of).
    let closes = closes
        .into_iter()
        .filter(|c| c.from_ns < period.to_ns && period.from_ns < c.to_ns)
        .collect();
    let mut sheet = Sheet::new("prepay", title, columns, Scope::new(period, closes));
    sheet.rows = rows;
    sheet.total = Some(t);
    sheet.notes = vec![format!("({})", exact::HOURS_NOTE)];
    if let Some(h) = halo {
        sheet.notes.push(format!(
            "purchases from Halo's prepay records (synced {}); halo_remaining: Halo's own balance of the block (contract_prepaybalance, hours or money as the contract says) \
             when synced, on each block's row of the period's last month; difference: our balance over every purchase and every draw the store holds (as Halo's is: \
             now, not at the period's end) minus Halo's (draws the store lacks, and tenant settings such as pay-as-you-go when prepay runs out, make them differ); \
             expiry dates are not applied",
            h.synced_at
        ));
        for u in &h.unassigned {
            sheet.warnings.push(u.clone());
            sheet.notes.push(u.clone());
        }
    }
    if incomplete.values().any(|g| *g) {
        let w = "status `incomplete`: the block was bought before the time the store covers, so not every draw on it is known and its balance is not judged; \
                 sync (or import) from its purchase date"
            .to_string();
        sheet.warnings.push(w.clone());
        sheet.notes.push(w);
    }
    sheet.chart = Chart::PrepayBurnDown;
    Ok(sheet)
}
