//! Every report by name, and what it is asked with: the one place the command line (and
//! the demo) turns a name into a [`Sheet`]. A built-in report is a function returning a
//! sheet; a report defined by files runs its query ([`super::sql`]). Each sheet leaves
//! here with its coverage ([`super::coverage::fill`]).

use super::actions::Filter;
use super::adjust::By;
use super::defs::{ParamValue, ReportDef};
use super::error::ReportError;
use super::prepay::Balance;
use super::sheet::Sheet;
use super::sql::QueryError;
use crate::fold::groups::ReportKind;
use crate::period::Period;
use crate::store::Store;
use std::path::Path;

/// The built-in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Builtin {
    /// Totals per contract.
    Contracts,
    /// Totals per invoice.
    Invoices,
    /// What changed after a period was closed (see --by).
    Adjustments,
    /// Chargeable work not yet invoiced, per contract, with its age (--to DATE alone:
    /// everything before that date).
    Unbilled,
    /// Per agent: hours, amounts, billable share and effective rate.
    Agents,
    /// The actions behind a line of another report (--contract, --invoice, --agent,
    /// --unbilled; --raw for integer units).
    Actions,
    /// Actions that may leak revenue, with the reason (--by contract: counts per
    /// contract and reason).
    Leakage,
    /// Prepaid blocks per contract and month: drawn, running totals; with --balances
    /// (or Halo's prepay records, when synced), purchased, remaining and a status (ok,
    /// low, overdrawn, incomplete), and beside Halo's records Halo's own balance.
    Prepay,
    /// Halo's invoices against the actions that name them: one row per invoice dated in
    /// the period (and per invoice its actions name that Halo never returned), with a
    /// finding: ok, lines-differ, voided, missing, exported-and-invoiced
    /// (--findings-only).
    Audit,
    /// The month-end pack on one page (--format html): contracts, invoices, unbilled,
    /// prepay, agents and leakage, with charts.
    Pack,
}

impl Builtin {
    /// The report's name, as `report NAME` takes it.
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .expect("no hidden variants")
            .get_name()
            .to_string()
    }
}

/// What a report is asked for with, beyond its name.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The period.
    pub period: &'a Period,
    /// Adjustments and leakage: the grouping.
    pub by: Option<By>,
    /// Actions: which.
    pub filter: Filter,
    /// Actions and reports defined by files: figures in their integer units.
    pub raw: bool,
    /// Prepay and the pack: the balances file's lines.
    pub balances: Option<&'a [Balance]>,
    /// Prepay: a block is low below this share of its hours, per mille.
    pub low_below_per_mille: i64,
    /// Audit: leave out the `ok` rows.
    pub findings_only: bool,
}

impl<'a> Request<'a> {
    /// A plain request for `period`.
    pub fn new(period: &'a Period) -> Request<'a> {
        Request {
            period,
            by: None,
            filter: Filter::default(),
            raw: false,
            balances: None,
            low_below_per_mille: 200,
            findings_only: false,
        }
    }
}

/// Builds the built-in report `which` (not the pack: [`pack`]) from the store at `root`
/// (opened as `store`), with its coverage.
pub fn build(
    store: &Store,
    root: &Path,
    which: Builtin,
    req: &Request,
) -> Result<Sheet, ReportError> {
    let period = req.period;
    let kind = match which {
        Builtin::Contracts => Some(ReportKind::Contracts),
        Builtin::Invoices => Some(ReportKind::Invoices),
        _ => None,
    };
    if let Some(kind) = kind {
        // On the store's state when it is read, which a commit may have moved on.
        let (current, mut sheet) = super::contracts::build_current(root, kind, period)?;
        super::coverage::fill(&current, &mut sheet, None)?;
        return Ok(sheet);
    }
    let mut since = None;
    let mut sheet = match which {
        Builtin::Adjustments => {
            super::adjust::adjustments(store, period, req.by.unwrap_or(By::Action))?
        }
        Builtin::Unbilled => super::unbilled::unbilled(store, period)?,
        Builtin::Agents => super::agents::agents(store, period)?,
        Builtin::Actions => super::actions::actions(store, period, &req.filter, req.raw)?,
        Builtin::Leakage => super::leakage::leakage(store, period, req.by == Some(By::Contract))?,
        Builtin::Prepay => {
            let halo = match req.balances {
                Some(_) => None,
                None => super::prepay::from_halo(store, period)?,
            };
            let balances = req
                .balances
                .or(halo.as_ref().map(|h| h.purchases.as_slice()));
            since = super::prepay::first_purchase(balances, period);
            super::prepay::prepay(
                store,
                period,
                balances,
                halo.as_ref(),
                req.low_below_per_mille,
            )?
        }
        Builtin::Audit => super::audit::audit(store, period, req.findings_only)?,
        Builtin::Contracts | Builtin::Invoices | Builtin::Pack => {
            unreachable!("contracts and invoices above; the pack is several reports")
        }
    };
    super::coverage::fill(store, &mut sheet, since)?;
    Ok(sheet)
}

/// The month-end pack's reports ([`super::pack::month_end`]).
pub fn pack(store: &Store, root: &Path, req: &Request) -> Result<Vec<Sheet>, ReportError> {
    super::pack::month_end(
        store,
        root,
        req.period,
        req.balances,
        req.low_below_per_mille,
    )
}

/// Runs the report defined by files `def` with its parameters' `values`; `sql`: its
/// query even where the binary computes it on its own ([`super::sql::has_native`]).
pub fn defined(
    store: &Store,
    def: &ReportDef,
    values: &[ParamValue],
    req: &Request,
    sql: bool,
) -> Result<Sheet, QueryError> {
    let mut sheet = super::sql::run_report(store, req.period, def, values, req.raw, sql)?;
    super::coverage::fill(store, &mut sheet, None)?;
    Ok(sheet)
}

/// Runs `sql` over the period's actions (`halo-billing query`), with its coverage.
pub fn query(store: &Store, req: &Request, sql: &str) -> Result<Sheet, QueryError> {
    let mut sheet = super::sql::query(store, req.period, sql, req.raw)?;
    super::coverage::fill(store, &mut sheet, None)?;
    Ok(sheet)
}
