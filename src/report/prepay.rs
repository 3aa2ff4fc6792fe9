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
use std::collections::BTreeSet;
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
    let reading = Period {
        from_ns: read_from,
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
                r.extend(std::iter::repeat_n(String::new(), 5));
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
                let status = if left.0 < 0 || left.1 < 0 {
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
    sheet.chart = Chart::PrepayBurnDown;
    Ok(sheet)
}
