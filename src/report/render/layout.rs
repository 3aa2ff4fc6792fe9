//! The output formats and how a sheet is laid out in them.

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated, one row per key, header first; text cells spreadsheet-safe.
    Csv,
    /// One JSON object, the same schema for every report (reports/README.md): period,
    /// closes, coverage, typed columns, rows, totals, notes; figures as exact decimal
    /// numbers.
    Json,
    /// Aligned columns with a totals line, fitted to the terminal, for reading.
    Table,
    /// One self-contained HTML page: the table (the CSV's cells) and, for contracts,
    /// unbilled, prepay and agents, an SVG chart.
    Html,
}

/// How a sheet is laid out beyond its format.
#[derive(Debug, Clone)]
pub struct Options {
    /// Table: every column, whole, whatever the width.
    pub wide: bool,
    /// Table: the width to fit (terminal columns).
    pub width: usize,
    /// CSV: a last row labelled `TOTAL`.
    pub totals: bool,
    /// CSV: the field delimiter.
    pub delimiter: u8,
    /// CSV: a comma as the decimal mark (European spreadsheets and accounting).
    pub decimal_comma: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            wide: false,
            width: 120,
            totals: false,
            delimiter: b',',
            decimal_comma: false,
        }
    }
}
