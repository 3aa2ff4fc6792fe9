//! The stages put together: files or a Halo tenant into the store.
//!
//! `import_files` reads files through ingest into frames and commits them; `sync` fetches
//! windows from the API into pending files in the store folder, then imports those the
//! same way, so both paths share one parser, one merge rule and one commit.

use crate::error::Error;
use crate::frame::ActionColumns;
use crate::ingest::halo::client::Client;
use crate::ingest::halo::fetch::{self, halo_time};
use crate::ingest::{self, FileResult, reject::Reject};
use crate::progress::Progress;
use crate::store::{CommitStats, Store, Writer};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What an import did.
#[derive(Debug)]
pub struct ImportOutcome {
    /// The store commit.
    pub stats: CommitStats,
    /// Refused records.
    pub rejects: Vec<Reject>,
    /// Where they were written, if any.
    pub rejects_file: Option<PathBuf>,
    /// Summary rows joined with their `actionsdetails` record.
    pub details_merged: usize,
    /// Actions that arrived without any billing field (their billing figures are zero).
    pub without_billing: usize,
}

/// Actions per staged frame: bounds memory on large imports.
const FRAME_ROWS: usize = 250_000;
/// Input bytes read and parsed in parallel at a time.
const BATCH_BYTES: u64 = 64 << 20;

fn unreadable(label: String, e: std::io::Error) -> FileResult {
    FileResult {
        rejects: vec![Reject {
            file: label,
            line: 0,
            byte: 0,
            location: "whole file".into(),
            ticket_id: None,
            id: None,
            reason: format!("cannot read: {e}"),
            text: String::new(),
        }],
        ..Default::default()
    }
}

/// Imports `files` (already discovered, in input order) into the store at `store_path`.
/// Refused records are written to `rejects_path` or the store's rejects folder.
///
/// `complete_windows` are UTC ranges whose every action is in `files` (completed sync
/// windows): stored actions in them that the files lack are tombstoned.
pub fn import_files(
    files: &[PathBuf],
    store_path: &Path,
    rejects_path: Option<PathBuf>,
    complete_windows: &[(i64, i64)],
    progress: &Progress,
) -> Result<ImportOutcome, Error> {
    let store = Store::open(store_path)?;
    let mut writer = Writer::begin(&store)?;
    writer.windows_complete(complete_windows);
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let bar = progress.bar(sizes.iter().sum(), "reading input bytes");
    let mut out = ImportOutcome {
        stats: CommitStats::default(),
        rejects: Vec::new(),
        rejects_file: None,
        details_merged: 0,
        without_billing: 0,
    };
    let mut columns = ActionColumns::default();
    let mut start = 0;
    while start < files.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < files.len() && (end == start || bytes + sizes[end] <= BATCH_BYTES) {
            bytes += sizes[end];
            end += 1;
        }
        let results: Vec<FileResult> = files[start..end]
            .par_iter()
            .map(|path| {
                let label = path.display().to_string();
                match ingest::read_input(path) {
                    Ok(bytes) => ingest::parse_document(&label, &bytes),
                    Err(e) => unreadable(label, e),
                }
            })
            .collect();
        for r in results {
            out.details_merged += r.details_merged;
            out.without_billing += r.incomplete.len();
            out.rejects.extend(r.rejects);
            for a in r.actions {
                columns.push(a);
                if columns.len() >= FRAME_ROWS {
                    let df = std::mem::take(&mut columns)
                        .into_frame()
                        .expect("columns of equal length");
                    writer.stage(df)?;
                }
            }
        }
        bar.inc(bytes);
        start = end;
    }
    bar.finish();
    if !columns.is_empty() {
        writer.stage(columns.into_frame().expect("columns of equal length"))?;
    }
    out.stats = writer.commit(progress)?;
    if !out.rejects.is_empty() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let path = rejects_path.unwrap_or_else(|| store.rejects_path(&stamp));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Output {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        ingest::reject::write_rejects(&path, &out.rejects).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })?;
        out.rejects_file = Some(path);
    }
    Ok(out)
}

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
    /// Fetch windows again even if already synced or pending.
    pub refresh: bool,
    /// Where refused records go (default: the store's rejects folder).
    pub rejects: Option<PathBuf>,
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
    /// Windows already synced, not fetched again.
    pub skipped: usize,
    /// List pages fetched.
    pub pages: u64,
    /// One-by-one detail calls.
    pub detail_calls: u64,
    /// Window splits (server would not page).
    pub splits: u64,
    /// Distinct actions received.
    pub actions: u64,
    /// HTTP requests, retries, 429s, and time waiting on the rate limit.
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

fn window_file(store: &Store, from: i64, to: i64) -> PathBuf {
    let compact = |ns: i64| halo_time(ns).replace(['-', ':'], "");
    store
        .sync_pending_dir()
        .join(format!("{}Z_{}Z.json", compact(from), compact(to)))
}

fn window_key(from: i64, to: i64) -> String {
    format!("{}Z..{}Z", halo_time(from), halo_time(to))
}

type SyncState = BTreeMap<String, String>;

fn load_state(path: &Path) -> Result<SyncState, Error> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::Usage(format!("sync state `{}` is damaged: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncState::new()),
        Err(source) => Err(Error::Output {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Fetches `[from, to)` window by window into the store. See `halo-billing sync --help`.
pub fn sync(
    client: &Client,
    store_path: &Path,
    opts: &SyncOptions,
    progress: &Progress,
) -> Result<SyncSummary, Error> {
    let started = Instant::now();
    let store = Store::open(store_path)?;
    let step = opts
        .window
        .as_nanos()
        .clamp(1_000_000_000, i64::MAX as u128) as i64;
    let mut windows = Vec::new();
    let mut t = opts.from_ns;
    while t < opts.to_ns {
        let end = t.saturating_add(step).min(opts.to_ns);
        windows.push((t, end));
        t = end;
    }
    let state_path = store.sync_state_path();
    let mut state = load_state(&state_path)?;
    let pending_dir = store.sync_pending_dir();
    std::fs::create_dir_all(&pending_dir).map_err(|source| Error::Output {
        path: pending_dir.clone(),
        source,
    })?;
    // Half-written window files of a killed run (temporary names) are not windows.
    for e in std::fs::read_dir(&pending_dir)
        .map_err(|source| Error::Output {
            path: pending_dir.clone(),
            source,
        })?
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with('.') {
            let _ = std::fs::remove_file(e.path());
        }
    }

    let (mut todo, mut resumed, mut skipped) = (Vec::new(), Vec::new(), 0);
    for &(f, t) in &windows {
        let file = window_file(&store, f, t);
        if opts.refresh {
            let _ = std::fs::remove_file(&file);
            todo.push((f, t));
        } else if state.contains_key(&window_key(f, t)) {
            skipped += 1;
        } else if file.exists() {
            resumed.push((f, t));
        } else {
            todo.push((f, t));
        }
    }

    let bar = progress.bar(todo.len() as u64, "fetching windows");
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let totals = Mutex::new((0u64, 0u64, 0u64, 0u64)); // pages, details, splits, actions
    std::thread::scope(|s| {
        for _ in 0..opts.workers.max(1) {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(f, t)) = todo.get(i) else { break };
                    let result = fetch::fetch_window(client, f, t)
                        .map_err(Error::Fetch)
                        .and_then(|data| {
                            let file = window_file(&store, f, t);
                            crate::fsutil::write_atomic(&file, |w| {
                                std::io::Write::write_all(w, &data.bytes)
                            })
                            .map_err(|source| Error::Output {
                                path: file.clone(),
                                source,
                            })?;
                            Ok(data)
                        });
                    match result {
                        Ok(d) => {
                            let mut tot = totals.lock().expect("totals");
                            tot.0 += d.pages;
                            tot.1 += d.detail_calls;
                            tot.2 += d.splits;
                            tot.3 += d.actions;
                            bar.inc(1);
                            let st = &client.stats;
                            let minutes = started.elapsed().as_secs_f64() / 60.0;
                            let reqs = st.requests.load(Ordering::Relaxed);
                            bar.set_detail(&format!(
                                "{} pages, {} actions, {:.0} req/min, {} retries",
                                tot.0,
                                tot.3,
                                if minutes > 0.0 {
                                    reqs as f64 / minutes
                                } else {
                                    0.0
                                },
                                st.retries.load(Ordering::Relaxed)
                            ));
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
    bar.finish();
    if let Some(e) = first_error.into_inner().expect("error slot") {
        let kept = std::fs::read_dir(&pending_dir)
            .map(|d| d.count())
            .unwrap_or(0);
        return Err(Error::SyncStopped {
            cause: Box::new(e),
            kept,
        });
    }

    // Commit every fetched window of this range in one import.
    let mut files: Vec<PathBuf> = todo
        .iter()
        .chain(&resumed)
        .map(|&(f, t)| window_file(&store, f, t))
        .collect();
    files.sort();
    let complete: Vec<(i64, i64)> = todo.iter().chain(&resumed).copied().collect();
    let import = import_files(
        &files,
        store_path,
        opts.rejects.clone(),
        &complete,
        progress,
    )?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for &(f, t) in todo.iter().chain(&resumed) {
        state.insert(window_key(f, t), now.clone());
    }
    crate::fsutil::write_atomic(&state_path, |w| {
        serde_json::to_writer_pretty(&mut *w, &state)?;
        std::io::Write::write_all(w, b"\n")
    })
    .map_err(|source| Error::Output {
        path: state_path.clone(),
        source,
    })?;
    for f in &files {
        let _ = std::fs::remove_file(f);
    }
    let (pages, detail_calls, splits, actions) = totals.into_inner().expect("totals");
    let st = &client.stats;
    Ok(SyncSummary {
        windows: windows.len(),
        fetched: todo.len(),
        resumed: resumed.len(),
        skipped,
        pages,
        detail_calls,
        splits,
        actions,
        requests: st.requests.load(Ordering::Relaxed),
        retries: st.retries.load(Ordering::Relaxed),
        rate_limited: st.rate_limited.load(Ordering::Relaxed),
        rate_wait: Duration::from_millis(st.rate_wait_ms.load(Ordering::Relaxed)),
        import,
        elapsed: started.elapsed(),
    })
}
