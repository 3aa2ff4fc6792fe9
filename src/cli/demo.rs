//! `halo-billing demo`: the whole job against a built-in Halo simulator, no
//! configuration, no network beyond loopback.

use super::write_output;
use crate::error::Error;
use crate::generate::{self, Options};
use crate::ingest::halo::client::{Client, ClientOptions};
use crate::ingest::halo::config::{HaloConfig, Secret, Setting, Source};
use crate::period::Period;
use crate::progress::Progress;
use crate::report::catalog::{self, Builtin, Request};
use crate::report::render::{self, Format};
use crate::report::sheet::Sheet;
use crate::simulate::{SimOptions, Simulator};
use crate::sync::{self, SyncOptions};
use std::path::PathBuf;
use std::time::Duration;

/// Run the month-end job on built-in demo data: no credentials, no network.
///
/// Starts the Halo simulator on a free loopback port with a year of generated time
/// entries, syncs the year of --period through the real HTTP client
/// (OAuth, paging, rate limit) with Halo's contracts, prepay purchases and the invoices,
/// prints the contracts report as a table and a month-end summary (unbilled work and its
/// age, possible leakage, prepaid blocks low or overdrawn, the invoice audit's
/// findings), writes every report (contracts, invoices, unbilled, agents, leakage,
/// prepay, audit) as CSV to OUT (./halo-billing-demo/ by default), and exports the
/// month's unbilled work for Xero with a mapping of [defaults] only: each contract's
/// customer comes from Halo.
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
    /// The demo store's reporting time zone (IANA name): the month is read in it, and the
    /// store remembers it for later commands (see `halo-billing timezone`).
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    timezone: String,
}

/// The file that marks a folder as the demo's own (so a later demo may empty it).
const MARK: &str = ".halo-billing-demo";

/// Makes `dir` the demo's folder: creates it, or accepts it when it is empty or marked
/// as the demo's; any other folder (a real store, someone's files) is refused.
fn claim_folder(dir: &std::path::Path) -> Result<(), Error> {
    let out = |source| Error::Output {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        let ours = dir.join(MARK).is_file();
        let empty = std::fs::read_dir(dir).map_err(out)?.next().is_none();
        if !ours && !empty {
            return Err(Error::Usage(format!(
                "--out `{}` is a folder the demo did not make (it holds files and no {MARK} mark); the demo empties \
                 its own folder before each run, so it never runs in another: give a new or empty folder",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(out)?;
    std::fs::write(
        dir.join(MARK),
        "This folder was made by `halo-billing demo`, which empties its store before each run.\n",
    )
    .map_err(out)
}

/// Runs `demo`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let period = Period::month(&args.period, crate::period::parse_zone(&args.timezone)?)?;
    let store_path = args.out.join("store");
    // Start clean so that the demo always shows the same figures, but only in a folder
    // the demo made: never a folder of someone else's (a real store, say).
    claim_folder(&args.out)?;
    let _lock = crate::store::StoreLock::acquire(&store_path)?;
    if store_path.exists() {
        for e in std::fs::read_dir(&store_path)
            .map_err(|source| Error::Output {
                path: store_path.clone(),
                source,
            })?
            .flatten()
        {
            // Everything but the lock file this run holds.
            if e.file_name() == crate::store::lock_file_name() {
                continue;
            }
            let p = e.path();
            let gone = if e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            gone.map_err(|source| Error::Output { path: p, source })?;
        }
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
    // The whole year: the prepaid blocks' balances count every draw since their purchase
    // (the simulator dates them at the start of the year), and Halo's balances are of
    // every draw so far.
    let year_start = Period::month(&format!("{year}-01"), period.timezone)?;
    let year_end = Period::month(&format!("{year}-12"), period.timezone)?;
    let opts = SyncOptions {
        from_ns: year_start.from_ns.min(period.from_ns),
        to_ns: year_end.to_ns.max(period.to_ns),
        window: Duration::from_secs(7 * 86_400),
        workers: 2,
        refresh: false,
        skip_synced_within: None,
        guard: Default::default(),
        rejects: None,
        only: None,
    };
    let summary = sync::sync(&client, &store_path, &opts, progress)?;
    sim.stop();
    {
        let _lock = crate::store::StoreLock::acquire(&store_path)?;
        crate::store::Store::open(&store_path)?
            .set_timezone(period.timezone.name(), "`halo-billing demo`")?;
    }
    progress.note(&super::sync::summary_line(&summary));
    progress.note(&super::import::describe(&store_path, &summary.import));
    // The month-end pack: the contracts table on screen, every report as CSV.
    let written = |name: &str| args.out.join(format!("{name}-{}.csv", args.period));
    let store = crate::store::Store::open(&store_path)?;
    // Prepaid blocks' purchases and Halo's balances come from Halo's prepay records.
    let req = Request::new(&period);
    let layout = render::Options {
        width: super::report::terminal_width(),
        ..render::Options::default()
    };
    let mut files = Vec::new();
    let mut sheets = Vec::new();
    for which in [
        Builtin::Contracts,
        Builtin::Invoices,
        Builtin::Unbilled,
        Builtin::Agents,
        Builtin::Leakage,
        Builtin::Prepay,
        Builtin::Audit,
    ] {
        let sheet = catalog::build(&store, &store_path, which, &req)?;
        if which == Builtin::Contracts {
            write_output(None, |w| {
                render::write(&sheet, Format::Table, &layout, w)?;
                writeln!(w)
            })?;
        }
        let csv = written(&sheet.report);
        write_output(Some(&csv), |w| {
            render::write(&sheet, Format::Csv, &layout, w)
        })?;
        files.push(csv);
        sheets.push(sheet);
    }
    let page = args.out.join(format!("pack-{}.html", args.period));
    let pack = catalog::pack(&store, &store_path, &req)?;
    let title = format!("Month-end pack, {} (demo data)", period.label);
    let all: Vec<&Sheet> = pack.iter().collect();
    write_output(Some(&page), |w| render::html::page(&title, &all, w))?;
    files.push(page);
    // The month's unbilled work for Xero, with a mapping of [defaults] only.
    drop(_lock);
    let mapping = args.out.join("mapping.toml");
    write_output(Some(&mapping), |w| w.write_all(DEMO_MAPPING.as_bytes()))?;
    let xero = args.out.join(format!("xero-{}.csv", args.period));
    #[derive(clap::Parser)]
    struct Export {
        #[command(flatten)]
        args: super::export::Args,
    }
    let export = <Export as clap::Parser>::try_parse_from([
        "export".into(),
        "xero".into(),
        "--period".into(),
        args.period.clone(),
        "--mapping".into(),
        mapping.display().to_string(),
        "--out".into(),
        xero.display().to_string(),
        "--store".into(),
        store_path.display().to_string(),
    ])
    .map_err(|e| Error::Usage(format!("the demo's export: {e}")))?;
    match super::export::run(export.args, progress) {
        // Work without a contract has no customer in Halo or in the mapping: the export
        // is written and says what it left out, which is what the demo shows.
        Ok(()) | Err(Error::LeftOut(_)) => {}
        Err(e) => return Err(e),
    }
    files.push(mapping);
    files.push(xero);
    write_output(None, |w| {
        writeln!(w, "{}\n", month_end_summary(&sheets, &period))?;
        for f in &files {
            writeln!(w, "wrote {}", f.display())?;
        }
        Ok(())
    })
}

/// The demo's export mapping: `[defaults]` only; every customer comes from Halo.
const DEMO_MAPPING: &str = "# The demo's mapping: [defaults] only. Each contract's customer is Halo's client_name\n\
# (its contract record); a [contracts.ID] section would override it.\n\
[defaults]\n\
account_code = \"200\"\n\
tax_type = \"Tax on Sales\"\n\
item = \"Labour\"\n\
terms_days = 30\n\
invoice_number = \"HB-{period}-{contract_id}\"\n\
invoice_date = \"period-end\"\n";

/// Unbilled amount and its oldest age, leakage count, blocks low or overdrawn.
fn month_end_summary(sheets: &[Sheet], period: &Period) -> String {
    let get = |name: &str| sheets.iter().find(|s| s.report == name).expect("a sheet");
    let col = |s: &Sheet, name: &str| s.position(name).expect("a column");
    let unbilled = get("unbilled");
    let total = unbilled.total.clone().unwrap_or_default();
    let amount = total
        .get(col(unbilled, "chargeable_amount"))
        .cloned()
        .unwrap_or_default();
    let oldest = total
        .get(col(unbilled, "oldest"))
        .cloned()
        .unwrap_or_default();
    let last_day = period.date_of(period.to_ns - 1);
    let age = chrono::NaiveDate::parse_from_str(&oldest, "%Y-%m-%d")
        .map(|d| format!("{} days", (last_day - d).num_days()))
        .unwrap_or_else(|_| "none".into());
    let leaks = get("leakage").rows.len();
    let prepay = get("prepay");
    let status = col(prepay, "status");
    let month = period.label.clone();
    let flagged: Vec<String> = prepay
        .rows
        .iter()
        .filter(|r| {
            r[col(prepay, "month")] == month && matches!(r[status].as_str(), "low" | "overdrawn")
        })
        .map(|r| format!("contract {} {}", r[0], r[status]))
        .collect();
    let audit = get("audit");
    let finding = col(audit, "finding");
    let mut findings: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &audit.rows {
        if r[finding] != "ok" {
            *findings.entry(r[finding].as_str()).or_default() += 1;
        }
    }
    let findings: Vec<String> = findings.iter().map(|(f, n)| format!("{n} {f}")).collect();
    format!(
        "Month-end summary, {}:\n  unbilled chargeable work: {amount} (oldest {age})\n  possible revenue leakage: {leaks} action(s) (see leakage-{}.csv)\n  prepaid blocks low or overdrawn: {}\n  invoice audit: {} of {} invoice(s) with a finding{} (see audit-{}.csv)",
        period.label,
        period.label,
        if flagged.is_empty() {
            "none".to_string()
        } else {
            flagged.join(", ")
        },
        audit.rows.iter().filter(|r| r[finding] != "ok").count(),
        audit.rows.len(),
        if findings.is_empty() {
            String::new()
        } else {
            format!(": {}", findings.join(", "))
        },
        period.label,
    )
}
