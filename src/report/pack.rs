//! `report pack`: the month-end pack, one page of the month's reports: contracts,
//! invoices, unbilled, prepay (with balances when given), agents, and leakage per
//! contract, each with its chart, its notes and its coverage.

use super::error::ReportError;
use super::prepay::Balance;
use super::sheet::Sheet;
use crate::fold::groups::ReportKind;
use crate::period::Period;
use crate::store::Store;
use std::path::Path;

/// The pack's reports, in page order, each with its coverage.
pub fn month_end(
    store: &Store,
    root: &Path,
    period: &Period,
    balances: Option<&[Balance]>,
    low_below_per_mille: i64,
) -> Result<Vec<Sheet>, ReportError> {
    let mut sheets = Vec::with_capacity(6);
    for kind in [ReportKind::Contracts, ReportKind::Invoices] {
        let (current, mut sheet) = super::contracts::build_current(root, kind, period)?;
        super::coverage::fill(&current, &mut sheet, None)?;
        sheets.push(sheet);
    }
    let halo = match balances {
        Some(_) => None,
        None => super::prepay::from_halo(store, period)?,
    };
    let balances = balances.or(halo.as_ref().map(|h| h.purchases.as_slice()));
    let since = super::prepay::first_purchase(balances, period);
    let mut rest = vec![
        (super::unbilled::unbilled(store, period)?, None),
        (
            super::prepay::prepay(store, period, balances, halo.as_ref(), low_below_per_mille)?,
            since,
        ),
        (super::agents::agents(store, period)?, None),
        (super::leakage::leakage(store, period, true)?, None),
    ];
    for (sheet, since) in &mut rest {
        super::coverage::fill(store, sheet, *since)?;
    }
    sheets.extend(rest.into_iter().map(|(s, _)| s));
    Ok(sheets)
}
