//! `halo-billing query`: SQL (polars' dialect) over a table `actions` holding the stored
//! columns of the selected period (closed periods from their frozen copies, as every
//! report). Figures stay integers through SQL (`SUM` of an integer column is exact);
//! columns named `*_cents`, `*_ms` and `*_e4` are shown as exact decimals (money 2,
//! hours 4, mileage 4 decimals) and renamed `*_amount`, `*_hours` and plain, unless raw.

use super::defs::{ColumnType, ParamType, ParamValue, ReportDef};
use super::error::ReportError;
use super::select;
use super::sheet::{Column as SheetColumn, Kind, Scope, Sheet};
use crate::exact;
use crate::frame;
use crate::period::Period;
use crate::store::{ClosedPeriod, Store};
use polars::prelude::*;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Reading the store failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A file report's result does not match its definition.
    #[error("report `{report}` ({sql_path}): {message}")]
    Shape {
        /// The report.
        report: String,
        /// Its SQL file.
        sql_path: String,
        /// What does not match.
        message: String,
    },
    /// polars refused or failed the SQL.
    #[error("the query failed: {message}\n  query: {query}")]
    Sql {
        /// polars' message.
        message: String,
        /// The SQL as given.
        query: String,
    },
}

/// The stored columns `sql` names (every one when it selects `*`), and always `id` so
/// that a query naming none still counts rows.
fn columns_used(sql: &str) -> Vec<String> {
    let star = sql.replace("(*)", "").contains('*');
    let words: std::collections::HashSet<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect();
    frame::schema()
        .iter_names()
        .map(|n| n.to_string())
        .filter(|n| star || n == crate::frame::col::ID || words.contains(n))
        .collect()
}

/// The parts' actions, the given stored columns, as one frame.
fn actions_frame(
    store: &Store,
    parts: &[select::Part],
    names: &[&str],
) -> Result<DataFrame, ReportError> {
    let schema = frame::schema();
    let bad = |source| ReportError::column("actions", source);
    let mut out: Option<DataFrame> = None;
    select::for_each_frame(store, parts, names, |df| {
        let df = df.select(names.iter().copied()).map_err(bad)?;
        match &mut out {
            None => out = Some(df),
            Some(o) => {
                o.vstack_mut_owned(df).map_err(bad)?;
            }
        };
        Ok(())
    })?;
    match out {
        Some(df) => Ok(df),
        None => DataFrame::empty_with_schema(&schema)
            .select(names.iter().copied())
            .map_err(bad),
    }
}

/// Runs `sql` over the period's actions (and the extra tables), collected. `streaming`:
/// over lazy scans of the files on polars' streaming engine, which reads them a few at
/// a time (memory that does not grow with the period); polars 0.55 does not run every
/// query that way (the streaming engine panics on AVG of an integer column, and over
/// scans the in-memory one fails `COUNT(*)`), so this is for the built-in reports,
/// whose queries the tests run. Otherwise the period's columns are collected first and
/// the query runs in memory.
///
/// Returns the result and the closes whose frozen copies it read.
fn execute(
    store: &Store,
    period: &Period,
    sql: &str,
    tables: Vec<(&str, DataFrame)>,
    streaming: bool,
) -> Result<(DataFrame, Vec<ClosedPeriod>), QueryError> {
    let used = columns_used(sql);
    let names: Vec<&str> = used.iter().map(String::as_str).collect();
    let (parts, closes) = select::parts(store, period)?;
    let actions = if streaming {
        select::scan_parts(store, &parts, &names)?
    } else {
        actions_frame(store, &parts, &names)?.lazy()
    };
    let engine = if streaming {
        Engine::Streaming
    } else {
        Engine::InMemory
    };
    Ok((run_sql(actions, sql, tables, engine)?, closes))
}

/// Runs `sql` over the table `actions` and the extra tables on `engine`.
pub(crate) fn run_sql(
    actions: LazyFrame,
    sql: &str,
    tables: Vec<(&str, DataFrame)>,
    engine: Engine,
) -> Result<DataFrame, QueryError> {
    let failed = |e: PolarsError| QueryError::Sql {
        message: shorten(&e.to_string()),
        query: sql.trim().to_string(),
    };
    let mut ctx = polars::sql::SQLContext::new();
    ctx.register("actions", actions);
    for (name, t) in tables {
        ctx.register(name, t.lazy());
    }
    ctx.execute(sql)
        .and_then(|lf| lf.collect_with_engine(engine))
        // One SQL statement is one plan with one sink: a single table.
        .map(|r| r.unwrap_single())
        .map_err(failed)
}

/// polars' message, with any part it prints as a parse tree (`Name { field: ... }`,
/// thousands of characters for `EXISTS`) cut short: what it says about it stays. Its
/// list of valid columns (only those the query named were read) becomes the table's.
fn shorten(message: &str) -> String {
    const KEEP: usize = 160;
    if let Some(at) = message.find("; valid columns: [") {
        let names: Vec<String> = frame::schema()
            .iter_names()
            .map(|n| n.to_string())
            .collect();
        return format!("{}; `actions` has: {}", &message[..at], names.join(", "));
    }
    let Some(open) = message.find(" { ") else {
        return message.to_string();
    };
    // The tree runs to the last closing brace; keep what precedes and follows it.
    let close = message.rfind('}').map_or(message.len(), |c| c + 1);
    if close <= open || close - open <= KEEP {
        return message.to_string();
    }
    let cut = message.floor_char_boundary((open + KEEP).min(close));
    format!("{} …}}{}", &message[..cut], &message[close..])
}

/// Runs `sql` over the period's actions.
pub fn query(store: &Store, period: &Period, sql: &str, raw: bool) -> Result<Sheet, QueryError> {
    let (result, closes) = execute(store, period, sql, Vec::new(), false)?;
    Ok(to_sheet(&result, Scope::new(period, closes), raw))
}

/// The one-row `params` table of a report's parameter values.
fn params_frame(def: &ReportDef, values: &[ParamValue]) -> Result<DataFrame, PolarsError> {
    let mut cols: Vec<Column> = Vec::with_capacity(values.len());
    for (p, v) in def.parameters.iter().zip(values) {
        let name = PlSmallStr::from(p.name.as_str());
        cols.push(match (p.kind, v) {
            (ParamType::Integer, ParamValue::Integer(i)) => Column::new(name, [Some(*i)]),
            (ParamType::Integer, _) => Column::new(name, [None::<i64>]),
            (ParamType::Text, ParamValue::Text(s)) => Column::new(name, [Some(s.as_str())]),
            (ParamType::Text, _) => Column::new(name, [None::<&str>]),
        });
    }
    if cols.is_empty() {
        // A table needs a column: one nobody names.
        cols.push(Column::new("_".into(), [None::<i64>]));
    }
    DataFrame::new(1, cols)
}

/// Whether `def` is a built-in report this binary also computes on its own (see
/// [`super::rates`]), which `run_report` does unless told to run the SQL.
pub fn has_native(def: &ReportDef) -> bool {
    matches!(def.origin, super::defs::Origin::BuiltIn) && def.name == super::rates::NAME
}

/// Runs a report defined by files: its SQL over the period's actions and its `params`
/// (or, for a built-in report with a native fold ([`has_native`]) unless `sql`, that
/// fold, which gives the same result), the result checked against the declared columns,
/// sorted, shown by column type, with totals of the totalled columns computed from the
/// exact integers.
pub fn run_report(
    store: &Store,
    period: &Period,
    def: &ReportDef,
    values: &[ParamValue],
    raw: bool,
    sql: bool,
) -> Result<Sheet, QueryError> {
    let shape = |message: String| QueryError::Shape {
        report: def.name.clone(),
        sql_path: def.sql_path.clone(),
        message,
    };
    let (result, closes) = if has_native(def) && !sql {
        let contract = def
            .parameters
            .iter()
            .zip(values)
            .find_map(|(p, v)| match v {
                ParamValue::Integer(c) if p.name == "contract" => Some(*c),
                _ => None,
            });
        super::rates::frame(store, period, contract)?
    } else {
        let params = params_frame(def, values).map_err(|e| shape(e.to_string()))?;
        let streaming = matches!(def.origin, super::defs::Origin::BuiltIn);
        execute(store, period, &def.sql, vec![("params", params)], streaming).map_err(
            |e| match e {
                QueryError::Sql { message, .. } => shape(format!("the query failed: {message}")),
                other => other,
            },
        )?
    };
    let got: Vec<&str> = result
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    let want: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    if got != want {
        return Err(shape(format!(
            "the query gives the columns {} but its definition declares {}",
            got.join(","),
            want.join(",")
        )));
    }
    let result = if def.sort.is_empty() {
        result
    } else {
        result
            .sort(
                &def.sort,
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .map_err(|e| shape(e.to_string()))?
    };
    let mut columns: Vec<SheetColumn> = Vec::new();
    let mut rows: Vec<Vec<String>> = vec![Vec::new(); result.height()];
    let mut total: Vec<String> = Vec::new();
    let mut any_total = false;
    for (c, d) in result.columns().iter().zip(&def.columns) {
        let figure = matches!(
            d.kind,
            ColumnType::Integer | ColumnType::Money | ColumnType::Hours | ColumnType::Mileage
        );
        if figure && !c.dtype().is_integer() && !c.dtype().is_null() {
            return Err(shape(format!(
                "column `{}` is declared {:?} (a whole number in its units) but the query gives {}; keep figures integers in the SQL (SUM, not AVG or /)",
                d.name,
                d.kind,
                c.dtype()
            )));
        }
        let fmt: Option<fn(i64) -> String> = match d.kind {
            _ if raw => None,
            ColumnType::Money => Some(exact::format_money),
            ColumnType::Hours => Some(exact::format_hours),
            ColumnType::Mileage => Some(exact::format_mileage),
            _ => None,
        };
        let kind = match d.kind {
            ColumnType::Integer if d.name == "id" || d.name.ends_with("_id") => Kind::Id,
            ColumnType::Integer if d.name == "actions" => Kind::Count,
            ColumnType::Integer => Kind::Integer,
            _ if raw && figure => Kind::Integer,
            ColumnType::Money => Kind::Money,
            ColumnType::Hours => Kind::Hours,
            ColumnType::Mileage => Kind::Mileage,
            ColumnType::Datetime => Kind::DateTime,
            ColumnType::Text | ColumnType::Boolean => Kind::Text,
        };
        // The definition's sort columns say what a row is about: its key.
        let column = SheetColumn::new(d.name.clone(), kind);
        columns.push(if def.sort.contains(&d.name) {
            column.key()
        } else {
            column
        });
        let digits = datetime_digits(c);
        let mut sum: i64 = 0;
        for (i, row) in rows.iter_mut().enumerate() {
            let v = c.get(i).unwrap_or(AnyValue::Null);
            if figure && !v.is_null() {
                let n = v.extract::<i64>().unwrap_or_default();
                sum = sum
                    .checked_add(n)
                    .ok_or_else(|| shape(format!("the total of `{}` overflows 64 bits", d.name)))?;
                row.push(fmt.map_or_else(|| n.to_string(), |f| f(n)));
            } else {
                row.push(plain(&v, digits));
            }
        }
        if figure && d.totalled() {
            any_total = true;
            total.push(fmt.map_or_else(|| sum.to_string(), |f| f(sum)));
        } else {
            total.push(String::new());
        }
    }
    let mut notes = Vec::new();
    if !raw && def.columns.iter().any(|c| c.kind == ColumnType::Hours) {
        notes.push(format!("({})", exact::HOURS_NOTE));
    }
    if raw {
        notes.push("(figures in their integer units)".into());
    }
    let title = format!(
        "{}, {} ({}), {} row(s)",
        def.title,
        period.label,
        period.timezone.name(),
        result.height()
    );
    let mut sheet = Sheet::new(&def.name, title, columns, Scope::new(period, closes));
    sheet.rows = rows;
    sheet.total = any_total.then_some(total);
    sheet.notes = notes;
    Ok(sheet)
}

/// The fraction digits of a date-time column ([`crate::model::datetime::column_digits`]):
/// every cell of it written with one precision.
fn datetime_digits(c: &Column) -> usize {
    let Ok(dt) = c.datetime() else {
        return 0;
    };
    let scale = match dt.time_unit() {
        TimeUnit::Nanoseconds => 1,
        TimeUnit::Microseconds => 1_000,
        TimeUnit::Milliseconds => 1_000_000,
    };
    crate::model::datetime::column_digits(
        dt.physical()
            .iter()
            .flatten()
            .map(|t| t.saturating_mul(scale)),
    )
}

/// A value that is not a figure, as text (null: empty): date-times with `digits`
/// fraction digits, floating point at full precision (the shortest text that reads back
/// as the same number, never rounded for display).
fn plain(v: &AnyValue, digits: usize) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(f) => f.to_string(),
        AnyValue::Float32(f) => f.to_string(),
        AnyValue::Datetime(t, unit, _) => {
            let ns = match unit {
                TimeUnit::Nanoseconds => *t,
                TimeUnit::Microseconds => t.saturating_mul(1_000),
                TimeUnit::Milliseconds => t.saturating_mul(1_000_000),
            };
            crate::model::datetime::format_datetime_digits(ns, digits)
        }
        _ => v.to_string(),
    }
}

/// An integer-unit column: its suffix, how a value is shown, the suffix it is shown with,
/// its kind.
type Unit = (&'static str, fn(i64) -> String, &'static str, Kind);

/// A result frame as a sheet: integer-unit columns shown as exact decimals unless `raw`.
fn to_sheet(df: &DataFrame, scope: Scope, raw: bool) -> Sheet {
    let mut columns: Vec<SheetColumn> = Vec::new();
    let mut rows: Vec<Vec<String>> = vec![Vec::new(); df.height()];
    for c in df.columns() {
        let name = c.name().as_str();
        let unit: Option<Unit> = match () {
            _ if raw || !c.dtype().is_integer() => None,
            _ if name.ends_with("_cents") => {
                Some(("_cents", exact::format_money, "_amount", Kind::Money))
            }
            _ if name.ends_with("_ms") => Some(("_ms", exact::format_hours, "_hours", Kind::Hours)),
            _ if name.ends_with("_e4") => Some(("_e4", exact::format_mileage, "", Kind::Mileage)),
            _ => None,
        };
        let shown = match unit {
            Some((suffix, _, to, _)) => format!("{}{to}", &name[..name.len() - suffix.len()]),
            None => name.to_string(),
        };
        let dtype = c.dtype();
        let kind = match unit {
            Some((_, _, _, k)) => k,
            None if dtype.is_integer() && (name == "id" || name.ends_with("_id")) => Kind::Id,
            None if dtype.is_integer() => Kind::Integer,
            None if dtype.is_primitive_numeric() => Kind::Number,
            None if matches!(dtype, DataType::Datetime(..)) => Kind::DateTime,
            None if matches!(dtype, DataType::Date) => Kind::Date,
            None => Kind::Text,
        };
        columns.push(SheetColumn::new(shown, kind));
        let digits = datetime_digits(c);
        for (i, row) in rows.iter_mut().enumerate() {
            let v = c.get(i).unwrap_or(AnyValue::Null);
            row.push(match unit {
                _ if v.is_null() => String::new(),
                Some((_, fmt, _, _)) => v.extract::<i64>().map(fmt).unwrap_or_default(),
                None => plain(&v, digits),
            });
        }
    }
    let title = format!(
        "Query over {} ({}), {} row(s)",
        scope.period.label,
        scope.period.timezone.name(),
        df.height()
    );
    let mut sheet = Sheet::new("query", title, columns, scope);
    sheet.rows = rows;
    sheet.notes = if raw {
        vec!["(figures in their integer units)".into()]
    } else {
        vec!["(columns *_cents, *_ms and *_e4 shown as exact amounts, hours and mileage)".into()]
    };
    sheet
}
