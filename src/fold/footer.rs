//! Every report's summary of a partition frame, for the store to keep in the file's
//! footer: each the state its report's own fold reaches over all the rows.

use super::base::FoldError;
use super::groups::ReportKind;
use polars::prelude::DataFrame;

/// The footer entries of a partition frame: contracts and invoices (JSON arrays of
/// integers, exact, in key order so that equal frames give equal files), agents,
/// unbilled work, leakage rows (when few enough), prepay draws and charge-rate groups.
pub fn entries(df: &DataFrame) -> Result<Vec<(String, String)>, FoldError> {
    use rayon::prelude::*;
    type Entry = Result<Option<(String, String)>, FoldError>;
    // Each summary is its own fold over all the rows: they run side by side.
    let summaries: [fn(&DataFrame) -> Entry; 7] = [
        |df| super::groups::footer(df, ReportKind::Contracts).map(Some),
        |df| super::groups::footer(df, ReportKind::Invoices).map(Some),
        |df| super::agents::footer(df).map(Some),
        |df| super::unbilled::footer(df).map(Some),
        super::leakage::footer,
        |df| super::prepay::footer(df).map(Some),
        |df| super::rates::footer(df).map(Some),
    ];
    let done: Vec<Option<(String, String)>> = summaries
        .par_iter()
        .map(|f| f(df))
        .collect::<Result<_, _>>()?;
    Ok(done.into_iter().flatten().collect())
}
