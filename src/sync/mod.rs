//! `sync`: a period of time entries from Halo's API into the store, window by window.
//!
//! Rules (every sync rule here, nowhere else):
//! - The period is cut into UTC windows (`--window`, default one day). Every window of the
//!   period is fetched again on every run, because Halo changes time entries after they
//!   are logged (late entries, re-pricing, invoicing); unchanged rows write nothing, so a
//!   re-sync costs requests, not disk. `skip_synced_within` skips windows committed less
//!   than that long ago.
//! - Fetched windows go to pending files (the bodies as received, written atomically);
//!   only when every window is in are they imported in one commit. An interrupted run
//!   leaves the store unchanged, and the next run resumes its pending windows.
//! - A window's answers count only when they are JSON pages of Halo's shape
//!   ([`fetch::read_list_answer`]); anything else fails the request, then the sync.
//! - Stored actions that a window no longer returns are tombstoned only when the window
//!   is clean: read whole, its `record_count` reached, no record in it refused. A refused
//!   record never displaces the stored copy of its action.
//! - Halo's billing records come with the actions (unless `--only actions`): every
//!   contract (`GET /api/ClientContract?includeinactive=true`), every prepay record
//!   (`GET /api/ClientPrepay`) and the invoices dated in the period's days with their
//!   lines (`GET /api/Invoice?includelines=true&start_date&end_date`, both days
//!   included), each endpoint's pages into one pending file, committed with the windows
//!   in the same commit. Their pages must add up to the `record_count` announced, and
//!   records are upserted, never deleted for being absent from an answer.
//! - The [`DeletionGuard`] holds back mass deletion: the rest commits, the deletions do
//!   not, and the run says so with its own exit code.

pub mod state;

use crate::error::Error;
use crate::ingest::halo::client::Client;
use crate::ingest::halo::fetch;
use crate::pipeline::{CompleteWindow, ImportOutcome, import_files};
use crate::progress::Progress;
use crate::store::{DeletionGuard, Store};
use state::{window_file, window_key};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What to sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Start (UTC nanoseconds, included).
    pub from_ns: i64,
    /// End (excluded).
    pub to_ns: i64,
    /// Window length.
    pub window: Duration,
    /// Windows fetched in parallel.
    pub workers: usize,
    /// Discard pending windows of an interrupted run and fetch them again.
    pub refresh: bool,
    /// Skip windows committed less than this long ago.
    pub skip_synced_within: Option<Duration>,
    /// The mass-deletion guard.
    pub guard: DeletionGuard,
    /// Where refused records go (default: the store's rejects folder).
    pub rejects: Option<PathBuf>,
    /// Fetch only this part (default: actions and records).
    pub only: Option<Only>,
}

/// What a sync fetches, when not everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// Time entries only (what sync fetched before it fetched records).
    Actions,
    /// Contracts, prepay and the period's invoices only.
    Records,
}

/// What a sync did.
#[derive(Debug)]
pub struct SyncSummary {
    /// Windows in the range.
    pub windows: usize,
    /// Windows fetched now.
    pub fetched: usize,
    /// Windows fetched by an interrupted earlier run and committed now.
    pub resumed: usize,
    /// Windows synced recently, not fetched again (`skip_synced_within`).
    pub skipped: usize,
    /// List pages fetched.
    pub pages: u64,
    /// One-by-one detail calls.
    pub detail_calls: u64,
    /// Window splits (server would not page).
    pub splits: u64,
    /// Distinct actions received.
    pub actions: u64,
    /// Record endpoint pages fetched (contracts, prepay, invoices).
    pub record_pages: u64,
    /// Records received.
    pub records: u64,
    /// HTTP requests sent.
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Time spent waiting for the rate limit.
    pub rate_wait: Duration,
    /// The import of the fetched windows.
    pub import: ImportOutcome,
    /// Wall time.
    pub elapsed: Duration,
}

/// Running totals of the fetch workers.
#[derive(Default)]
struct Totals {
    pages: u64,
    detail_calls: u64,
    splits: u64,
    actions: u64,
}

/// Which windows to fetch, which to resume from pending files, how many to skip.
struct Plan {
    todo: Vec<(i64, i64)>,
    resumed: Vec<(i64, i64)>,
    skipped: usize,
}

fn plan(
    store: &Store,
    windows: &[(i64, i64)],
    state: &state::SyncState,
    opts: &SyncOptions,
) -> Plan {
    let now = chrono::Utc::now();
    let recent = |key: &str| {
        let (Some(age), Some(at)) = (opts.skip_synced_within, state.get(key)) else {
            return false;
        };
        let Ok(at) = chrono::DateTime::parse_from_rfc3339(at) else {
            return false;
        };
        let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        now.signed_duration_since(at) < age
    };
    let mut p = Plan {
        todo: Vec::new(),
        resumed: Vec::new(),
        skipped: 0,
    };
    for &(f, t) in windows {
        let file = window_file(store, f, t);
        if opts.refresh {
            let _ = std::fs::remove_file(&file);
            p.todo.push((f, t));
        } else if file.exists() {
            p.resumed.push((f, t));
        } else if recent(&window_key(f, t)) {
            p.skipped += 1;
        } else {
            p.todo.push((f, t));
        }
    }
    p
}

/// The interruption (Ctrl-C, SIGTERM) asked for since the run began, if any: what the
/// progress bar says, and the error (what was fetched stays pending for the next run).
fn interruption() -> Option<(String, Error)> {
    crate::interrupt::requested().map(|(signal, code)| {
        (
            format!("stopped by {signal}"),
            Error::Interrupted {
                signal,
                code,
                detail: String::new(),
            },
        )
    })
}

/// Fetches `todo` with `workers` threads into pending files; stops at the first failure.
fn fetch_windows(
    client: &Client,
    store: &Store,
    todo: &[(i64, i64)],
    workers: usize,
    progress: &Progress,
    started: Instant,
) -> Result<Totals, Error> {
    let bar = progress.bar(todo.len() as u64, "fetching windows");
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let totals = Mutex::new(Totals::default());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) && crate::interrupt::requested().is_none() {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(f, t)) = todo.get(i) else { break };
                    match fetch_one(client, store, f, t) {
                        Ok(d) => {
                            let mut tot = totals.lock().expect("totals");
                            tot.pages += d.pages;
                            tot.detail_calls += d.detail_calls;
                            tot.splits += d.splits;
                            tot.actions += d.actions;
                            bar.inc(1);
                            bar.set_detail(&rate_detail(client, &tot, started));
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            first_error.lock().expect("error slot").get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some((why, e)) = interruption() {
        bar.fail(&why);
        return Err(e);
    }
    match first_error.into_inner().expect("error slot") {
        Some(e) => {
            bar.fail(&e.to_string());
            Err(e)
        }
        None => {
            bar.finish();
            Ok(totals.into_inner().expect("totals"))
        }
    }
}

/// Fetches one window and writes its pending file.
fn fetch_one(client: &Client, store: &Store, f: i64, t: i64) -> Result<fetch::WindowData, Error> {
    let data = fetch::fetch_window(client, f, t)?;
    let file = window_file(store, f, t);
    crate::fsutil::write_atomic(&file, |w| std::io::Write::write_all(w, &data.bytes)).map_err(
        |source| Error::Output {
            path: file.clone(),
            source,
        },
    )?;
    Ok(data)
}

fn rate_detail(client: &Client, tot: &Totals, started: Instant) -> String {
    let st = &client.stats;
    let secs = started.elapsed().as_secs().max(1);
    let reqs = st.requests.load(Ordering::Relaxed);
    format!(
        "{} pages, {} actions, {} req/min, {} retries",
        tot.pages,
        tot.actions,
        reqs * 60 / secs,
        st.retries.load(Ordering::Relaxed)
    )
}

/// One record endpoint a sync asks: its path, the table its records go to, the query
/// besides the paging, and its pending file's name.
type RecordRequest = (
    &'static str,
    crate::records::Table,
    Vec<(&'static str, String)>,
    String,
);

/// The record endpoints a sync fetches for `[from, to)`.
fn record_requests(opts: &SyncOptions) -> Vec<RecordRequest> {
    use crate::records::Table;
    let day = |ns: i64| fetch::halo_time(ns).chars().take(10).collect::<String>();
    let (from, last) = (day(opts.from_ns), day(opts.to_ns.saturating_sub(1)));
    vec![
        (
            "/ClientContract",
            Table::Contracts,
            vec![("includeinactive", "true".to_string())],
            "records-contracts.json".to_string(),
        ),
        (
            "/ClientPrepay",
            Table::Prepay,
            Vec::new(),
            "records-prepay.json".to_string(),
        ),
        (
            "/Invoice",
            Table::Invoices,
            vec![
                ("includelines", "true".to_string()),
                ("datesearch", "invoice_date".to_string()),
                ("start_date", from.clone()),
                ("end_date", last.clone()),
            ],
            format!("records-invoices-{from}_{last}.json"),
        ),
    ]
}

/// Fetches the billing records into pending files (an endpoint whose file an interrupted
/// run left is not fetched again, unless `--refresh`); returns the files, the pages
/// fetched and the records received.
fn fetch_all_records(
    client: &Client,
    store: &Store,
    opts: &SyncOptions,
    progress: &Progress,
) -> Result<(Vec<PathBuf>, u64, u64), Error> {
    let list = record_requests(opts);
    let bar = progress.bar(list.len() as u64, "fetching contracts, prepay, invoices");
    let mut files = Vec::new();
    let (mut pages, mut records) = (0, 0);
    for (path, table, query, name) in list {
        if let Some((why, e)) = interruption() {
            bar.fail(&why);
            return Err(e);
        }
        let file = store.sync_pending_dir().join(name);
        if opts.refresh || !file.exists() {
            let data = match fetch::fetch_records(client, path, table, &query) {
                Ok(d) => d,
                Err(e) => {
                    bar.fail(&e.to_string());
                    return Err(e.into());
                }
            };
            pages += data.pages;
            records += data.records;
            crate::fsutil::write_atomic(&file, |w| std::io::Write::write_all(w, &data.bytes))
                .map_err(|source| Error::Output {
                    path: file.clone(),
                    source,
                })?;
        }
        files.push(file);
        bar.inc(1);
    }
    bar.finish();
    Ok((files, pages, records))
}

/// Fetches `[from, to)` window by window into the store. See `halo-billing sync --help`.
pub fn sync(
    client: &Client,
    store_path: &Path,
    opts: &SyncOptions,
    progress: &Progress,
) -> Result<SyncSummary, Error> {
    let started = Instant::now();
    // One writer for the whole run: pending windows are this run's from the first fetch
    // to the commit, so a second sync or import is refused at once, not at its commit.
    let _lock = crate::store::StoreLock::acquire(store_path)?;
    let store = Store::open(store_path)?;
    let step = opts
        .window
        .as_nanos()
        .clamp(1_000_000_000, i64::MAX as u128) as i64;
    let windows = state::windows(opts.from_ns, opts.to_ns, step);
    let state_path = store.sync_state_path();
    let mut sync_state = state::load_state(&state_path)?;
    let pending_dir = state::prepare_pending(&store)?;
    let mut plan = plan(&store, &windows, &sync_state, opts);
    if opts.only == Some(Only::Records) {
        plan.todo.clear();
        plan.resumed.clear();
        plan.skipped = 0;
    }

    let totals = fetch_windows(client, &store, &plan.todo, opts.workers, progress, started)
        .map_err(|e| {
            let kept = std::fs::read_dir(&pending_dir)
                .map(|d| d.count())
                .unwrap_or(0);
            match e {
                Error::Interrupted { signal, code, .. } => Error::Interrupted {
                    signal,
                    code,
                    detail: format!(
                        "nothing was committed; {kept} fetched window(s) are kept in `{}`, and running the same sync again resumes from them",
                        pending_dir.display()
                    ),
                },
                e => Error::SyncStopped {
                    cause: Box::new(e),
                    kept,
                },
            }
        })?;

    let (record_files, record_pages, records) = if opts.only == Some(Only::Actions) {
        (Vec::new(), 0, 0)
    } else {
        fetch_all_records(client, &store, opts, progress).map_err(|e| Error::SyncStopped {
            cause: Box::new(e),
            kept: std::fs::read_dir(&pending_dir)
                .map(|d| d.count())
                .unwrap_or(0),
        })?
    };

    // Commit every fetched window of this range in one import.
    let fetched: Vec<(i64, i64)> = plan.todo.iter().chain(&plan.resumed).copied().collect();
    let mut order: Vec<usize> = (0..fetched.len()).collect();
    order.sort_by_key(|&i| window_file(&store, fetched[i].0, fetched[i].1));
    let mut files: Vec<PathBuf> = order
        .iter()
        .map(|&i| window_file(&store, fetched[i].0, fetched[i].1))
        .collect();
    files.extend(record_files);
    let complete: Vec<CompleteWindow> = order
        .iter()
        .enumerate()
        .map(|(file, &i)| CompleteWindow {
            file,
            from_ns: fetched[i].0,
            to_ns: fetched[i].1,
        })
        .collect();
    let import = import_files(
        &files,
        store_path,
        opts.rejects.clone(),
        &complete,
        opts.guard,
        progress,
    )?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for &(f, t) in &fetched {
        sync_state.insert(window_key(f, t), now.clone());
    }
    state::save_state(&state_path, &sync_state)?;
    for f in &files {
        let _ = std::fs::remove_file(f);
    }
    let st = &client.stats;
    Ok(SyncSummary {
        windows: windows.len(),
        fetched: plan.todo.len(),
        resumed: plan.resumed.len(),
        skipped: plan.skipped,
        pages: totals.pages,
        detail_calls: totals.detail_calls,
        splits: totals.splits,
        actions: totals.actions,
        record_pages,
        records,
        requests: st.requests.load(Ordering::Relaxed),
        retries: st.retries.load(Ordering::Relaxed),
        rate_limited: st.rate_limited.load(Ordering::Relaxed),
        rate_wait: Duration::from_millis(st.rate_wait_ms.load(Ordering::Relaxed)),
        import,
        elapsed: started.elapsed(),
    })
}
