//! Why a report could not be made.

use crate::aggregate::Overflow;
use crate::fold::base::FoldError;
use crate::store::StoreError;
use polars::prelude::PolarsError;

/// A report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A column could not be used, or a total overflowed (the folds' own error).
    #[error(transparent)]
    Fold(#[from] FoldError),
    /// The range cuts through a closed period.
    #[error("{0}")]
    CutsClosed(String),
    /// A report of a closed period's changes asked of a period never closed.
    #[error("{0}")]
    NotClosed(String),
    /// An input file of a report (e.g. prepay balances) is wrong.
    #[error("{0}")]
    Input(String),
}

impl From<Overflow> for ReportError {
    fn from(o: Overflow) -> Self {
        ReportError::Fold(FoldError::Overflow(o))
    }
}

impl ReportError {
    /// A store column that is missing or not of its type.
    pub fn column(column: &'static str, source: PolarsError) -> Self {
        ReportError::Fold(FoldError::Column { column, source })
    }
}

impl ReportError {
    /// Whether this is a data file that vanished under the reader (removed by a commit).
    pub fn is_vanished_file(&self) -> bool {
        matches!(
            self,
            ReportError::Store(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound
        )
    }
}
