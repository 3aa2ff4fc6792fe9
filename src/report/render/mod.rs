//! The renderers: a [`Sheet`] written as CSV ([`csv`]), JSON ([`json`]), a table
//! ([`table`]) or an HTML page ([`html`], with [`chart`]). They take the sheet and the
//! layout and nothing else.

pub mod chart;
pub mod csv;
pub mod html;
pub mod json;
pub mod layout;
pub mod table;

use crate::report::sheet::Sheet;
pub use layout::{Format, Options};
use std::io::{self, Write};

/// Writes `sheet` in `format`, laid out as `opts` says.
pub fn write(sheet: &Sheet, format: Format, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Csv => csv::write(sheet, opts, out),
        Format::Json => json::write(sheet, out),
        Format::Table => table::write(sheet, opts, out),
        Format::Html => html::page(&sheet.title, &[sheet], out),
    }
}
