//! Reports: the period's totals per contract or per invoice, from the store.
//!
//! Reads only the columns it needs from the partitions that overlap the period, hands
//! plain slices to [`crate::aggregate`], and orders the groups. Formatting lives in
//! [`format`]; no figure is rounded here.

pub mod format;
pub mod safe;

use crate::aggregate::{self, Input, MEASURES, Overflow, Totals};
use crate::frame::col;
use crate::period::Period;
use crate::store::{Store, StoreError};
use polars::prelude::*;

/// Which grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// One row per contract (`action_contract_id`, `action_contract_ref`).
    Contracts,
    /// One row per invoice (`actioninvoicenumber`, `invoice_id`); unbilled work is the
    /// row with an empty invoice number.
    Invoices,
}

/// One report row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Contract id or invoice id (`None` = none).
    pub id: Option<i64>,
    /// Contract reference or invoice number.
    pub text: Option<String>,
    /// The group's totals.
    pub totals: Totals,
}

/// A finished report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which grouping.
    pub kind: ReportKind,
    /// The period reported.
    pub period: Period,
    /// Rows in key order.
    pub rows: Vec<Row>,
    /// Sum of all rows.
    pub total: Totals,
    /// Actions in the store with no usable datetime (in no period).
    pub undated: u64,
}

/// A report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A column could not be used.
    #[error("store column `{column}`: {source}")]
    Column {
        /// Column name.
        column: &'static str,
        /// polars' error.
        source: PolarsError,
    },
    /// A total overflowed.
    #[error(transparent)]
    Overflow(#[from] Overflow),
}

fn i64_col<'a>(df: &'a DataFrame, name: &'static str) -> Result<&'a Int64Chunked, ReportError> {
    df.column(name)
        .and_then(|c| c.i64())
        .map_err(|source| ReportError::Column {
            column: name,
            source,
        })
}

/// Builds a report for `period` from `store`.
pub fn build(store: &Store, kind: ReportKind, period: &Period) -> Result<Report, ReportError> {
    let (id_col, text_col) = match kind {
        ReportKind::Contracts => (col::CONTRACT_ID, col::CONTRACT_REF),
        ReportKind::Invoices => (col::INVOICE_ID, col::INVOICE_NUMBER),
    };
    let mut columns = vec![col::DATETIME, id_col, text_col];
    columns.extend(col::MEASURES);
    let files = store.files_overlapping(period.from_ns, period.to_ns);
    let df = store.read_columns(&files, &columns)?;

    let dt = df
        .column(col::DATETIME)
        .and_then(|c| c.datetime().map(|d| d.physical().clone()))
        .map_err(|source| ReportError::Column {
            column: col::DATETIME,
            source,
        })?;
    // Dated partitions hold no null datetimes; a null here would be a store bug, and is
    // kept out of every period rather than guessed.
    let datetime: Vec<i64> = dt.iter().map(|v| v.unwrap_or(i64::MIN)).collect();
    let key_id: Vec<i64> = i64_col(&df, id_col)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let texts = df
        .column(text_col)
        .and_then(|c| c.str())
        .map_err(|source| ReportError::Column {
            column: text_col,
            source,
        })?;
    let key_text: Vec<Option<&str>> = match kind {
        // Actions without a contract form one row whatever reference they carry.
        ReportKind::Contracts => texts
            .iter()
            .zip(&key_id)
            .map(|(t, id)| if *id == 0 { None } else { t })
            .collect(),
        ReportKind::Invoices => texts.iter().collect(),
    };
    let mut measures: Vec<&[i64]> = Vec::with_capacity(MEASURES);
    for name in col::MEASURES {
        let ca = i64_col(&df, name)?;
        measures.push(ca.cont_slice().map_err(|source| ReportError::Column {
            column: name,
            source,
        })?);
    }
    let input = Input {
        datetime: &datetime,
        key_id: &key_id,
        key_text: &key_text,
        measures: std::array::from_fn(|m| measures[m]),
    };
    let grouped = aggregate::aggregate(&input, period.from_ns, period.to_ns)?;
    let mut rows: Vec<Row> = grouped
        .groups
        .into_iter()
        .map(|((id, text), totals)| Row {
            id: (id != 0).then_some(id),
            text: text.map(str::to_string),
            totals,
        })
        .collect();
    match kind {
        ReportKind::Contracts => rows.sort_by(|a, b| (a.id, &a.text).cmp(&(b.id, &b.text))),
        ReportKind::Invoices => rows.sort_by(|a, b| (&a.text, a.id).cmp(&(&b.text, b.id))),
    }
    Ok(Report {
        kind,
        period: period.clone(),
        rows,
        total: grouped.total,
        undated: store.undated_rows(),
    })
}
