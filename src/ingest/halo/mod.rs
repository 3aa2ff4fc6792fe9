//! Fetching actions from a Halo tenant's REST API: settings, the HTTP client with its
//! token, rate and retry rules, and the windowed, paged fetch of time entries.
//!
//! It returns the responses' bytes (the same text `import` reads from files) and leaves
//! parsing, merging and storing to the rest of the pipeline.

pub mod client;
pub mod config;
pub mod fetch;
