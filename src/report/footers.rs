//! Reading the fold states a partition file's footer holds ([`crate::fold`]): a report
//! over a period that contains the file's whole month merges that state instead of
//! decoding the file's 65,536 rows; a month cut by the period (its edges, another time
//! zone) is still folded row by row, as is a file whose summary does not apply to the
//! report asked (each report says when: e.g. unbilled ages cut inside the month). The
//! figures are the same either way: the footer holds exact integer sums and counts of
//! the same rows, and none of them depends on how rows are split.
//!
//! Files written before footers existed (and closed periods' frozen copies) have none and
//! are read row by row. A footer that is present but unreadable, or that was not made
//! from the file's rows (its row or action count is not the file's), is an error naming
//! the file, never skipped.

use super::error::ReportError;
use super::select::{self, Part};
use crate::fold::groups::{self, Groups, ReportKind};
use crate::fold::summary;
use crate::store::{FileEntry, Store, StoreError};
use serde::de::DeserializeOwned;

/// The fold state under `key` in the footer of part `p`'s file, when `p` takes the whole
/// file ([`select::whole`]) and the footer holds one; `None` otherwise (the caller folds
/// the rows).
pub fn of_whole_part<T: DeserializeOwned>(
    store: &Store,
    p: &Part,
    key: &str,
) -> Result<Option<T>, ReportError> {
    if !select::whole(p) {
        return Ok(None);
    }
    let Some(json) = store.read_footer(&p.file, key)? else {
        return Ok(None);
    };
    summary::decode(key, &json, p.file.rows)
        .map(Some)
        .map_err(|reason| damaged(store, &p.file, reason))
}

/// The error for a footer summary of `file` that cannot be used.
fn damaged(store: &Store, file: &FileEntry, reason: String) -> ReportError {
    ReportError::Store(StoreError::Totals {
        path: store.root().join(&file.path),
        reason,
    })
}

/// The totals `file`'s footer holds for `kind`; `None` when it holds none (a file written
/// before footers existed), so the caller sums its rows instead.
pub fn groups(
    store: &Store,
    file: &FileEntry,
    kind: ReportKind,
) -> Result<Option<Groups>, ReportError> {
    let Some(json) = store.read_footer(file, groups::key(kind))? else {
        return Ok(None);
    };
    groups::decode(kind, &json, file.rows)
        .map(Some)
        .map_err(|reason| damaged(store, file, reason))
}
