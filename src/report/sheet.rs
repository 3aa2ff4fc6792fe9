//! The one shape every report leaves the engine in: named, typed columns, rows of
//! figures already shown exactly ([`crate::exact`] rounds each hours figure once; money
//! is exact), a totals row where the report has one, notes, and the report's scope (its
//! period and zone, the closes its figures come from, what of the period the store
//! covers). The renderers ([`super::render`]) take a sheet and nothing else; a report
//! is a function that returns one.

use crate::period::Period;
use crate::store::ClosedPeriod;

/// What a column holds: how it is aligned, written in JSON and fitted in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole-number identifier (contract, invoice, agent, ticket, action id).
    Id,
    /// Free text (references, names, invoice numbers, notes, reasons, months).
    Text,
    /// How many (actions, rows).
    Count,
    /// A whole number in integer units (`--raw` figures, query results).
    Integer,
    /// Money, exact, 2 decimals.
    Money,
    /// Hours, 4 decimals, each figure its exact value rounded once.
    Hours,
    /// Mileage, 4 decimals.
    Mileage,
    /// A percentage, rounded once.
    Percent,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, RFC 3339 in UTC.
    DateTime,
    /// Any other number (a query's floating-point result, at full precision).
    Number,
}

impl Kind {
    /// The kind's name in JSON's `columns`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Id => "id",
            Kind::Text => "text",
            Kind::Count => "count",
            Kind::Integer => "integer",
            Kind::Money => "money",
            Kind::Hours => "hours",
            Kind::Mileage => "mileage",
            Kind::Percent => "percent",
            Kind::Date => "date",
            Kind::DateTime => "datetime",
            Kind::Number => "number",
        }
    }

    /// Whether cells are numbers: right-aligned, numbers in JSON, written with the
    /// decimal comma when asked.
    pub fn is_number(self) -> bool {
        !matches!(self, Kind::Text | Kind::Date | Kind::DateTime)
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name: the CSV header (a contract other tools parse), JSON's member name.
    pub name: String,
    /// What it holds.
    pub kind: Kind,
    /// Part of the row's key (what the row is about: a contract, an invoice, an action).
    pub key: bool,
    /// A detail a table fitted to the terminal leaves out (shown with `--wide`).
    pub detail: bool,
}

impl Column {
    /// A column of `kind`.
    pub fn new(name: impl Into<String>, kind: Kind) -> Column {
        Column {
            name: name.into(),
            kind,
            key: false,
            detail: false,
        }
    }

    /// The same column, part of the row's key.
    pub fn key(mut self) -> Column {
        self.key = true;
        self
    }

    /// The same column, a detail.
    pub fn detail(mut self) -> Column {
        self.detail = true;
        self
    }
}

/// Which chart a page draws beside the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Table only.
    None,
    /// Hours per contract, split into chargeable, non-chargeable and prepay.
    HoursPerContract,
    /// The unbilled amount by age.
    UnbilledByAge,
    /// Prepaid hours drawn over the months, per block: running totals, or the remaining
    /// hours when the report has balances.
    PrepayBurnDown,
    /// Billable share per agent.
    BillableShare,
}

/// What the figures are of, and how far they can be trusted.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The period reported (a closed period asked for as itself: the close's label and
    /// zone).
    pub period: Period,
    /// The closes whose frozen copies the figures come from (with `since_close`: the
    /// close the figures are measured against).
    pub closes: Vec<ClosedPeriod>,
    /// The figures are what changed in the store since `closes` (adjustments), not
    /// figures taken from them.
    pub since_close: bool,
    /// The parts of the time the figures depend on that the store does not cover.
    pub gaps: Vec<(i64, i64)>,
    /// The coverage said in words (and how to fill the gaps).
    pub coverage: String,
    /// Actions in the store with no usable datetime (in no period, so in no report).
    pub undated: u64,
}

impl Scope {
    /// The scope of figures over `period` from `closes`; coverage not yet known.
    pub fn new(period: &Period, closes: Vec<ClosedPeriod>) -> Scope {
        Scope {
            period: period.clone(),
            closes,
            since_close: false,
            gaps: Vec::new(),
            coverage: String::new(),
            undated: 0,
        }
    }
}

/// A finished report.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The report's name (`contracts`, `unbilled`, `charge-rates`, `query`...).
    pub report: String,
    /// What it is, in a line: the table's first line, the page's heading, JSON's `title`.
    pub title: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// Rows of shown cells, one per column (empty: none).
    pub rows: Vec<Vec<String>>,
    /// The totals row, where the report has one (empty cells where a total means
    /// nothing).
    pub total: Option<Vec<String>>,
    /// What a reader should know (rounding, columns' meaning), under the table and in
    /// JSON's `notes`.
    pub notes: Vec<String>,
    /// Notes that are also warnings, said on standard error (e.g. a contract seen under
    /// two references); they are in `notes` too.
    pub warnings: Vec<String>,
    /// What a row whose key cells are all empty stands for (`(no contract)`): shown in
    /// tables, and as the row's `label` in JSON.
    pub blank_key: Option<&'static str>,
    /// The chart a page draws.
    pub chart: Chart,
    /// Period, closes, coverage.
    pub scope: Scope,
}

impl Sheet {
    /// A sheet of `columns` with no rows yet, over `scope`.
    pub fn new(report: &str, title: String, columns: Vec<Column>, scope: Scope) -> Sheet {
        Sheet {
            report: report.to_string(),
            title,
            columns,
            rows: Vec::new(),
            total: None,
            notes: Vec::new(),
            warnings: Vec::new(),
            blank_key: None,
            chart: Chart::None,
            scope,
        }
    }

    /// The index of the column `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Whether a row's key cells are all empty (the row [`Sheet::blank_key`] names).
    pub fn is_blank_key(&self, row: &[String]) -> bool {
        let mut keys = self
            .columns
            .iter()
            .zip(row)
            .filter(|(c, _)| c.key)
            .peekable();
        keys.peek().is_some() && keys.all(|(_, v)| v.is_empty())
    }
}
