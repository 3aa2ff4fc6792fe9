//! The per-row folds the reports run, below both the store and the reports.
//!
//! Each fold turns a frame of stored columns into an exact state (integer sums and
//! counts) that merges with another of its kind: a report folds the rows it reads and
//! merges the states of files it need not read; the store, writing a partition file,
//! runs the same folds over all of its rows and keeps the states in the file's footer
//! ([`footer::entries`], [`summary`]). A footer is its file's rows folded by the report's
//! own code, so a report's figures are the same whichever way it takes a file. Nothing
//! here reads the store or formats a figure.

pub mod agents;
pub mod base;
pub mod footer;
pub mod groups;
pub mod leakage;
pub mod prepay;
pub mod rates;
pub mod summary;
pub mod unbilled;
