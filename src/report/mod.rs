//! Reports: each a function from the store and a period to a [`sheet::Sheet`], the one
//! shape every report leaves in, written by the renderers of [`render`].
//!
//! Layers, each importing only those below it (no two files import each other):
//! [`catalog`] (every report by name) over the reports ([`contracts`], [`unbilled`],
//! [`agents`], [`actions`], [`leakage`], [`prepay`], [`audit`], [`adjust`], [`sql`] with [`defs`],
//! [`pack`]) over [`select`] (which files and rows make a period), [`footers`] (fold
//! states kept in files' footers), [`coverage`], [`billed`] (the export register's view),
//! and [`sheet`], [`measures`], [`safe`], [`error`]; the folds themselves live below the
//! store, in [`crate::fold`]. The renderers ([`render`]) know sheets only.

pub mod actions;
pub mod adjust;
pub mod agents;
pub mod audit;
pub mod billed;
pub mod catalog;
pub mod contracts;
pub mod coverage;
pub mod defs;
pub mod error;
pub mod footers;
pub mod leakage;
pub mod measures;
pub mod pack;
pub mod prepay;
pub mod rates;
pub mod render;
pub mod safe;
pub mod select;
pub mod sheet;
pub mod sql;
pub mod unbilled;

pub use crate::fold::groups::ReportKind;
pub use error::ReportError;
