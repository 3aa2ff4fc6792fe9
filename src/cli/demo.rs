//! `halo-billing demo`: the whole job against a built-in Halo simulator, no
//! configuration, no network beyond loopback.

use super::write_output;
use crate::error::Error;
use crate::generate::{self, Options};
use crate::ingest::halo::client::{Client, ClientOptions};
use crate::ingest::halo::config::{HaloConfig, Secret, Setting, Source};
use crate::period::Period;
use crate::progress::Progress;
use crate::report::{self, ReportKind, format::Format};
use crate::simulate::{SimOptions, Simulator};
use crate::sync::{self, SyncOptions};
use std::path::PathBuf;
use std::time::Duration;

/// Run the month-end job on built-in demo data: no credentials, no network.
///
/// Starts the Halo simulator on a free loopback port with a year of generated time
/// entries, syncs one month through the real HTTP client (OAuth, paging, rate limit),
/// prints the contracts and invoices reports as tables with totals, and writes both as
/// CSV to OUT (./halo-billing-demo/ by default).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo's store and CSV reports.
    #[arg(long, value_name = "DIR", default_value = "halo-billing-demo")]
    out: PathBuf,
    /// Time entries in the simulated tenant (over the year of --period).
    #[arg(long, default_value_t = 20_000)]
    actions: u64,
    /// The month to sync and report.
    #[arg(long, value_name = "YYYY-MM", default_value = "2026-10")]
    period: String,
}

/// Runs `demo`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let period = Period::month(&args.period, chrono_tz::UTC)?;
    let store_path = args.out.join("store");
    // Start clean so that the demo always shows the same figures.
    if store_path.exists() {
        std::fs::remove_dir_all(&store_path).map_err(|source| Error::Output {
            path: store_path.clone(),
            source,
        })?;
    }
    let year = generate::parse_month(&args.period)
        .map(|(y, _)| y)
        .unwrap_or(2026);
    let data = Options {
        actions: args.actions,
        seed: 2026,
        from: (year, 1),
        to: (year, 12),
        out: PathBuf::new(),
    };
    let sim = Simulator::start(SimOptions::new(data), 0)?;
    progress.note(&format!(
        "Halo simulator serving {} time entries at {}",
        sim.time_entries(),
        sim.url()
    ));
    let (id, secret) = sim.credentials();
    let setting = |v: String| Setting {
        value: v,
        source: Source::Default,
    };
    let cfg = HaloConfig {
        url: setting(sim.url()),
        auth_url: setting(format!("{}/auth", sim.url())),
        tenant: None,
        client_id: setting(id.to_string()),
        client_secret: Setting {
            value: Secret::new(secret.to_string()),
            source: Source::Default,
        },
        scope: setting("all".into()),
    };
    let client = Client::new(cfg, ClientOptions::default())?;
    let opts = SyncOptions {
        from_ns: period.from_ns,
        to_ns: period.to_ns,
        window: Duration::from_secs(86_400),
        workers: 2,
        refresh: false,
        skip_synced_within: None,
        guard: Default::default(),
        rejects: None,
    };
    let summary = sync::sync(&client, &store_path, &opts, progress)?;
    sim.stop();
    progress.note(&super::sync::summary_line(&summary));
    progress.note(&super::import::describe(&store_path, &summary.import));
    for (kind, name) in [
        (ReportKind::Contracts, "contracts"),
        (ReportKind::Invoices, "invoices"),
    ] {
        let (_, rep) = report::build_current(&store_path, kind, &period)?;
        write_output(None, |w| {
            report::format::write(&rep, Format::Table, w)?;
            writeln!(w)
        })?;
        let csv = args.out.join(format!("{name}-{}.csv", args.period));
        write_output(Some(&csv), |w| report::format::write(&rep, Format::Csv, w))?;
        println!("wrote {}", csv.display());
        println!();
    }
    Ok(())
}
