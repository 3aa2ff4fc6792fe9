//! `halo-billing sync`: time entries from a Halo tenant into the store.

use super::StoreArg;
use crate::error::Error;
use crate::ingest::halo::client::{Client, ClientOptions};
use crate::ingest::halo::config::{HaloConfig, default_config_file};
use crate::progress::Progress;
use crate::store::DeletionGuard;
use crate::sync::{self, SyncOptions};
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
/// Every window of the period is fetched on every run (Halo changes entries after they
/// are logged: late time, re-pricing, invoicing); unchanged actions write nothing.
/// --skip-synced-within 6h skips windows committed less than 6 hours ago.
///
/// Fetched windows are kept in STORE/sync/pending until all are in, then committed in one
/// step; a sync stopped at any point (Ctrl-C, kill, lost network) leaves the store as it
/// was, and the next run resumes with the windows it already has (--refresh fetches
/// them again).
///
/// Halo's billing records come too (--only actions leaves them out, --only records
/// fetches nothing else): every contract, inactive ones included
/// (GET /api/ClientContract?includeinactive=true), every prepay purchase
/// (GET /api/ClientPrepay) and the invoices dated in the period's days, with their lines
/// (GET /api/Invoice?includelines=true&start_date&end_date). They are committed with the
/// actions in the same step, upserted by id, and never deleted because an answer lacked
/// them; their pages must add up to the record_count Halo announces. The summary line
/// says what they cost in requests.
///
/// Only a page is a page: an empty body, HTML (a proxy's sign-in page), a JSON error
/// object or cut-off JSON is retried like a 5xx, then fails the sync naming the window,
/// the request and the start of the answer; nothing is committed.
///
/// Deletions: stored actions that a clean window (read whole, nothing refused) no longer
/// returns are moved to STORE/tombstones. If that would delete more than --max-deletions
/// actions, more than --max-deletion-share of the period's stored actions, or every action
/// of a window that held some, the deletions are held back: everything else is committed,
/// the held windows are listed (one line each) with the first 20 actions by (ticket_id,
/// id), all of them are written to STORE/sync/held-deletions-<time>.csv, and the exit code
/// is 4. --accept-deletions takes them.
///
/// One writer: the sync holds the store's lock from its start to its end; a second sync,
/// import, close or export is refused at once, naming this one (exit 75).
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
    /// Windows fetched in parallel (1 to 16).
    #[arg(long, default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
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
    /// Discard the pending windows of an interrupted run and fetch them again.
    #[arg(long)]
    refresh: bool,
    /// Skip windows committed less than this long ago: 6h, 1d (default: fetch all).
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    skip_synced_within: Option<Duration>,
    /// Hold back deletions when more than N actions would be deleted.
    #[arg(long, value_name = "N", default_value_t = 25)]
    max_deletions: u64,
    /// Hold back deletions when more than this share of the period's stored actions
    /// would be deleted: 5%, 0.5%.
    #[arg(long, value_name = "PERCENT", default_value = "5%", value_parser = parse_share)]
    max_deletion_share: u64,
    /// Accept every deletion the sync finds (after checking Halo, e.g. following a
    /// run that exited 4).
    #[arg(long)]
    accept_deletions: bool,
    /// Exit 0 even when some records were refused.
    #[arg(long)]
    allow_rejects: bool,
    /// Where to write refused records [default: STORE/rejects/import-<time>.ndjson].
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Fetch only the time entries (actions) or only the billing records (contracts,
    /// prepay, the period's invoices) [default: both].
    #[arg(long, value_enum)]
    only: Option<sync::Only>,
}

/// Parses `90s`, `30m`, `6h`, `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 90s, 30m, 6h or 1d"))?;
    let per = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}` is not a duration like 90s, 30m, 6h or 1d")),
    };
    // A hundred years is more than any period; beyond it, arithmetic on times overflows.
    let secs = n
        .checked_mul(per)
        .filter(|s| *s <= 100 * 366 * 86_400)
        .ok_or_else(|| format!("`{s}` is too long: at most 100 years (36600d)"))?;
    if secs == 0 {
        return Err(format!("`{s}` must be longer than zero"));
    }
    Ok(Duration::from_secs(secs))
}

/// Parses `5%` or `0.5%` into per mille.
pub fn parse_share(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a share like 5% or 0.5%");
    let num = s.trim().strip_suffix('%').ok_or_else(bad)?;
    let d: rust_decimal::Decimal = num.trim().parse().map_err(|_| bad())?;
    if d < rust_decimal::Decimal::ZERO || d > rust_decimal::Decimal::from(100) {
        return Err(bad());
    }
    let pm = d * rust_decimal::Decimal::from(10);
    if pm.fract() != rust_decimal::Decimal::ZERO {
        return Err(format!("`{s}`: give the share to 0.1% at most"));
    }
    u64::try_from(pm).map_err(|_| bad())
}

/// Where each setting currently comes from, for `--help` (never a value), with the config
/// file `--config` names, else the default one.
pub fn sources_help(named: Option<PathBuf>) -> String {
    let file = named.or_else(default_config_file);
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
    crate::ingest::max_input_bytes().map_err(Error::Usage)?;
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
    )?
    .on_wait({
        let p = *progress;
        move |m| p.note(m)
    });
    let store_path = args.store.path();
    args.store
        .refuse_inside(args.rejects.as_deref(), "--rejects", Some("rejects"))?;
    let opts = SyncOptions {
        from_ns: period.from_ns,
        to_ns: period.to_ns,
        window: args.window,
        workers: args.workers,
        refresh: args.refresh,
        skip_synced_within: args.skip_synced_within,
        guard: DeletionGuard {
            max_count: args.max_deletions,
            max_per_mille: args.max_deletion_share,
            accept: args.accept_deletions,
        },
        rejects: args.rejects,
        only: args.only,
    };
    let s = sync::sync(&client, &store_path, &opts, progress)?;
    progress.note(&summary_line(&s));
    progress.note(&super::import::describe(&store_path, &s.import));
    let rejects = super::import::finish_rejects(&s.import, args.allow_rejects);
    if s.import.stats.deletions_held > 0 {
        return Err(Error::DeletionsHeld {
            held: s.import.stats.deletions_held,
            reason: s.import.stats.held_reason.clone(),
        });
    }
    rejects
}

/// The end-of-sync summary. Time spent waiting on Halo's rate limit is said only when
/// there was some.
pub(crate) fn summary_line(s: &sync::SyncSummary) -> String {
    let waited = if s.rate_wait.is_zero() {
        String::new()
    } else {
        format!(", {} waiting on the rate limit", readable(s.rate_wait))
    };
    format!(
        "synced {} window(s): {} fetched, {} resumed from an interrupted run, {} skipped (synced recently); {} page(s), {} detail call(s), \
         {} split(s); {} action(s) received; {} record page(s) (contracts, prepay, invoices), {} record(s) received; \
         {} request(s), {} retr(y/ies), {} rate-limited answer(s){waited}; {} in all",
        s.windows,
        s.fetched,
        s.resumed,
        s.skipped,
        s.pages,
        s.detail_calls,
        s.splits,
        s.actions,
        s.record_pages,
        s.records,
        s.requests,
        s.retries,
        s.rate_limited,
        readable(s.elapsed)
    )
}

/// A duration as a person reads it: `850 ms`, `12.3 s`, `4 min 05 s`.
fn readable(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1_000, ms % 1_000 / 100)
    } else {
        let s = d.as_secs();
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::readable;
    use std::time::Duration;

    #[test]
    fn durations_read_in_ms_seconds_or_minutes_never_ns() {
        assert_eq!(readable(Duration::from_nanos(3)), "0 ms");
        assert_eq!(readable(Duration::from_millis(850)), "850 ms");
        assert_eq!(readable(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(readable(Duration::from_secs(245)), "4 min 05 s");
    }
}
