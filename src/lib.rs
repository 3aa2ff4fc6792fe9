//! halo-billing: exact billing and time reporting over HaloPSA time entries.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//! [`ingest`] (saved API responses) -> [`model`] (typed, exact actions) ->
//! [`frame`] / [`store`] (columnar, Parquet) -> [`aggregate`] (rayon, exact) ->
//! [`report`] (CSV, JSON, tables). [`exact`] holds the one rounding policy.
//! [`pipeline`] joins the stages for `import`, [`sync`] fetches from Halo's API through it; [`simulate`] is a
//! Halo-compatible API server for the demo and the tests.

pub mod aggregate;
pub mod cli;
pub mod error;
pub mod exact;
pub mod export;
pub mod fold;
pub mod frame;
pub mod fsutil;
pub mod generate;
pub mod ingest;
pub mod interrupt;
pub mod jobs;
pub mod model;
pub mod period;
pub mod pipeline;
pub mod progress;
pub mod records;
pub mod report;
pub mod simulate;
pub mod store;
pub mod sync;
pub mod threads;

pub use error::Error;
