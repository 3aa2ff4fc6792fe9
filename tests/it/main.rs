//! The integration tests, each driving the real `halo-billing` binary in a temporary
//! folder: one test binary (the product and its dependencies are linked once, not once
//! per file), a module per area. Run one area with `cargo test --test it page::`.

mod common;

mod cli;
mod close;
mod damage;
mod engines;
mod export;
mod footers;
mod import;
mod jobs;
mod layout;
mod oracle;
mod outputs;
mod pack;
mod page;
mod query;
mod records;
mod register;
mod report;
mod report_files;
mod report_shape;
mod secret;
mod store;
mod sync;
