//! `halo-billing sync`: time entries from a Halo tenant into the store.

use super::StoreArg;
use crate::error::Error;
use crate::ingest::halo::client::{Client, ClientOptions};
use crate::ingest::halo::config::{HaloConfig, default_config_file};
use crate::pipeline::{self, SyncOptions};
use crate::progress::Progress;
use std::path::PathBuf;
use std::time::Duration;

/// Fetch a period's time entries from Halo's API into the store.
///
/// The period (--period, or --from/--to) is read in UTC, as Halo's API takes dates.
///
/// Calls GET /api/Actions with timeentriesonly=true and excludebilling=true, one window
/// (default one day, UTC) at a time, 100 rows a page, splitting a window when the server
/// will not page; rows that arrive without billing fields are completed with
/// GET /api/Actions/{id}. Records are de-duplicated on (ticket_id, id) and merged into the
/// store like `import` does.
///
/// Fetched windows are kept in STORE/sync/pending until all are in, then committed in one
/// step; a sync stopped at any point (Ctrl-C, kill, lost network) leaves the store as it
/// was, and the next run fetches only the windows it does not have yet. Windows already
/// committed are not fetched again unless --refresh is given.
///
/// Settings (environment first, then the config file; see the list below for where each
/// one currently comes from):
///   HALO_URL            tenant base, e.g. https://acme.halopsa.com (API under /api);
///                       plain http:// only for loopback addresses
///   HALO_AUTH_URL       token endpoint base [default: {HALO_URL}/auth]
///   HALO_TENANT         hosted tenant name, sent as ?tenant= (optional)
///   HALO_CLIENT_ID      OAuth client id
///   HALO_CLIENT_SECRET  OAuth client secret (never printed, logged or stored)
///   HALO_SCOPE          [default: all]
/// Config file: --config FILE, else $HALO_CONFIG, else
/// $XDG_CONFIG_HOME/halo-billing/config.toml (~/.config/halo-billing/config.toml), with
/// keys url, auth_url, tenant, client_id, client_secret, scope.
///
/// Examples:
///   halo-billing sync --period 2026-10
///   halo-billing sync --from 2026-10-01 --to 2026-11-01 --window 6h --rate-limit 200
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    period: super::PeriodArgs,
    #[command(flatten)]
    store: StoreArg,
    /// Settings file (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Window length: 1d, 6h, 30m, 90s.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    window: Duration,
    /// Windows fetched in parallel.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Requests allowed per --rate-window (0: no client-side limit). Halo's hosted
    /// limit is about 300 per rolling 5 minutes.
    #[arg(long, default_value_t = 300)]
    rate_limit: usize,
    /// The rolling window of --rate-limit: 300s, 5m.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    rate_window: Duration,
    /// Retries per request on 429, 5xx, timeouts and dropped connections.
    #[arg(long, default_value_t = 8)]
    max_retries: u32,
    /// Timeout of one request: 60s.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    timeout: Duration,
    /// Fetch windows again even if they were synced before.
    #[arg(long)]
    refresh: bool,
    /// Exit 0 even when some records were refused.
    #[arg(long)]
    allow_rejects: bool,
    /// Where to write refused records [default: STORE/rejects/import-<time>.ndjson].
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
}

/// Parses `90s`, `30m`, `6h`, `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 90s, 30m, 6h or 1d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{s}` is not a duration like 90s, 30m, 6h or 1d")),
    };
    if secs == 0 {
        return Err(format!("`{s}` must be longer than zero"));
    }
    Ok(Duration::from_secs(secs))
}

/// Where each setting currently comes from, for `--help` (never a value).
pub fn sources_help() -> String {
    let file = default_config_file();
    let file_has = |key: &str| {
        file.as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| t.parse::<toml::Table>().ok())
            .is_some_and(|t| t.contains_key(key))
    };
    let mut s = String::from("Where each setting comes from now (values are never shown):\n");
    for (env, key) in [
        ("HALO_URL", "url"),
        ("HALO_AUTH_URL", "auth_url"),
        ("HALO_TENANT", "tenant"),
        ("HALO_CLIENT_ID", "client_id"),
        ("HALO_CLIENT_SECRET", "client_secret"),
        ("HALO_SCOPE", "scope"),
    ] {
        let from = if std::env::var_os(env).is_some_and(|v| !v.is_empty()) {
            "set in the environment".to_string()
        } else if file_has(key) {
            format!("`{key}` in {}", file.as_ref().expect("file").display())
        } else {
            "not set".to_string()
        };
        s.push_str(&format!("  {env:<20}{from}\n"));
    }
    s.push_str(&format!(
        "  config file         {}",
        file.map(|f| format!(
            "{}{}",
            f.display(),
            if f.exists() { "" } else { " (absent)" }
        ))
        .unwrap_or_else(|| "none".into())
    ));
    s
}

/// Runs `sync`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let period = args.period.resolve("UTC")?;
    let named = args.config.is_some();
    let file = args.config.clone().or_else(default_config_file);
    let cfg = HaloConfig::load(file.as_deref(), named)?;
    progress.note(&cfg.describe());
    let client = Client::new(
        cfg,
        ClientOptions {
            budget: args.rate_limit,
            rate_window: args.rate_window,
            max_retries: args.max_retries,
            timeout: args.timeout,
        },
    )?;
    let store_path = args.store.path();
    let opts = SyncOptions {
        from_ns: period.from_ns,
        to_ns: period.to_ns,
        window: args.window,
        workers: args.workers,
        refresh: args.refresh,
        rejects: args.rejects,
    };
    let s = pipeline::sync(&client, &store_path, &opts, progress)?;
    progress.note(&summary_line(&s));
    progress.note(&super::import::describe(&store_path, &s.import));
    super::import::finish_rejects(&s.import, args.allow_rejects)
}

/// The end-of-sync summary.
pub(crate) fn summary_line(s: &pipeline::SyncSummary) -> String {
    format!(
        "synced {} window(s): {} fetched, {} resumed from an interrupted run, {} already synced; {} page(s), {} detail call(s), \
         {} split(s); {} action(s) received; {} request(s), {} retr(y/ies), {} rate-limited answer(s), {:.1?} waiting on the rate limit; {:.1?} in all",
        s.windows,
        s.fetched,
        s.resumed,
        s.skipped,
        s.pages,
        s.detail_calls,
        s.splits,
        s.actions,
        s.requests,
        s.retries,
        s.rate_limited,
        s.rate_wait,
        s.elapsed
    )
}
