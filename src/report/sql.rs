//! `halo-billing query`: SQL (polars' dialect) over a table `actions` holding the stored
//! columns of the selected period (closed periods from their frozen copies, as every
//! report). Figures stay integers through SQL (`SUM` of an integer column is exact);
//! columns named `*_cents`, `*_ms` and `*_e4` are shown as exact decimals (money 2,
//! hours 4, mileage 4 decimals) and renamed `*_amount`, `*_hours` and plain, unless raw.

use super::ReportError;
use super::select;
use super::sheet::{Cell, Sheet};
use crate::exact;
use crate::frame;
use crate::period::Period;
use crate::store::Store;
use polars::prelude::*;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Reading the store failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// polars refused or failed the SQL.
    #[error("the query failed: {message}\n  query: {query}")]
    Sql {
        /// polars' message.
        message: String,
        /// The SQL as given.
        query: String,
    },
}

/// The period's actions, every stored column, as one frame.
fn actions_frame(store: &Store, period: &Period) -> Result<DataFrame, ReportError> {
    let (parts, _) = select::parts(store, period)?;
    let schema = frame::schema();
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    let mut out: Option<DataFrame> = None;
    select::for_each_frame(store, &parts, &names, |df| {
        let df = df
            .select(names.iter().copied())
            .map_err(|source| ReportError::Column {
                column: "actions",
                source,
            })?;
        match &mut out {
            None => out = Some(df),
            Some(o) => {
                o.vstack_mut_owned(df)
                    .map_err(|source| ReportError::Column {
                        column: "actions",
                        source,
                    })?;
            }
        }
        Ok(())
    })?;
    Ok(out.unwrap_or_else(|| DataFrame::empty_with_schema(&schema)))
}

/// Runs `sql` over the period's actions.
pub fn query(store: &Store, period: &Period, sql: &str, raw: bool) -> Result<Sheet, QueryError> {
    let df = actions_frame(store, period)?;
    let failed = |e: PolarsError| QueryError::Sql {
        message: e.to_string(),
        query: sql.trim().to_string(),
    };
    let mut ctx = polars::sql::SQLContext::new();
    ctx.register("actions", df.lazy());
    let result = ctx
        .execute(sql)
        .and_then(|lf| lf.collect())
        .map_err(failed)?;
    Ok(to_sheet(&result, period, raw))
}

/// An integer-unit column: its suffix, how a value is shown, the suffix it is shown with.
type Unit = (&'static str, fn(i64) -> String, &'static str);

/// A result frame as a sheet: integer-unit columns shown as exact decimals unless `raw`.
fn to_sheet(df: &DataFrame, period: &Period, raw: bool) -> Sheet {
    let mut columns: Vec<(&'static str, Cell)> = Vec::new();
    let mut rows: Vec<Vec<String>> = vec![Vec::new(); df.height()];
    for c in df.columns() {
        let name = c.name().as_str();
        let numeric = c.dtype().is_primitive_numeric();
        let unit: Option<Unit> = match () {
            _ if raw || !c.dtype().is_integer() => None,
            _ if name.ends_with("_cents") => Some(("_cents", exact::format_money, "_amount")),
            _ if name.ends_with("_ms") => Some(("_ms", exact::format_hours, "_hours")),
            _ if name.ends_with("_e4") => Some(("_e4", exact::format_mileage, "")),
            _ => None,
        };
        let shown = match unit {
            Some((suffix, _, to)) => format!("{}{to}", &name[..name.len() - suffix.len()]),
            None => name.to_string(),
        };
        // Column names live as long as the report: leak the few of one query's result.
        let shown: &'static str = Box::leak(shown.into_boxed_str());
        columns.push((shown, if numeric { Cell::Number } else { Cell::Text }));
        for (i, row) in rows.iter_mut().enumerate() {
            let v = c.get(i).unwrap_or(AnyValue::Null);
            row.push(match (&v, unit) {
                (AnyValue::Null, _) => String::new(),
                (_, Some((_, fmt, _))) => v.extract::<i64>().map(fmt).unwrap_or_default(),
                (AnyValue::String(s), _) => s.to_string(),
                (AnyValue::StringOwned(s), _) => s.to_string(),
                (AnyValue::Datetime(t, unit, _), _) => {
                    let ns = match unit {
                        TimeUnit::Nanoseconds => *t,
                        TimeUnit::Microseconds => t.saturating_mul(1_000),
                        TimeUnit::Milliseconds => t.saturating_mul(1_000_000),
                    };
                    crate::model::datetime::format_datetime(ns)
                }
                _ => v.to_string(),
            });
        }
    }
    Sheet {
        title: format!(
            "Query over {} ({}), {} row(s)",
            period.label,
            period.timezone.name(),
            df.height()
        ),
        columns,
        rows,
        total: None,
        notes: if raw {
            vec!["(figures in their integer units)".into()]
        } else {
            vec![
                "(columns *_cents, *_ms and *_e4 shown as exact amounts, hours and mileage)".into(),
            ]
        },
    }
}
