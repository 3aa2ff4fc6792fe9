//! The import stage put together: input files through ingest into frames, and one
//! commit into the store. `sync` (in [`crate::sync`]) fetches windows into files and
//! imports them through here, so both paths share one parser, one merge rule and one
//! commit.

use crate::error::Error;
use crate::frame::ActionColumns;
use crate::ingest::{self, FileResult, reject::Reject};
use crate::progress::Progress;
use crate::store::{CommitStats, DeletionGuard, Store, Writer};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

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
    /// The first and last `datetime` among the actions read (what an import covers).
    pub dated_range: Option<(i64, i64)>,
    /// The store's hash migration, when this import did one first.
    pub migrated: Option<crate::store::Migration>,
    /// Completed windows that deleted nothing because a record in them was refused or
    /// their file could not be read whole.
    pub unclean_windows: Vec<(i64, i64)>,
    /// The file listing every action whose deletion the guard held back, if any.
    pub held_file: Option<PathBuf>,
    /// Halo's billing records read (contracts, prepay, invoices and their lines), all
    /// files together, committed with the actions.
    pub records: crate::records::Batch,
}

/// A completed sync window: the file holding every action Halo returned for the UTC
/// range `[from_ns, to_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompleteWindow {
    /// Index of its file in the import's file list.
    pub file: usize,
    /// Start (UTC nanoseconds).
    pub from_ns: i64,
    /// End (excluded).
    pub to_ns: i64,
}

/// Actions per staged frame: bounds memory on large imports.
const FRAME_ROWS: usize = 20_000;
/// Input bytes read and parsed in parallel at a time.
const BATCH_BYTES: u64 = 16 << 20;
/// Files read and parsed in parallel at a time, and files' columns sent to the staging
/// thread together at most: each file's columns hold room for a page of rows, so many
/// tiny files must not pile up (20,000 one-record files once took 1.8 GB).
const BATCH_FILES: usize = 256;

fn unreadable(label: String, e: std::io::Error) -> FileResult {
    FileResult {
        rejects: vec![Reject::whole_file(label, format!("cannot read: {e}"))],
        ..Default::default()
    }
}

/// One file parsed on a worker: what it yielded besides its actions, which are already
/// columns with their content hashes.
struct ParsedFile {
    result: FileResult,
    records: crate::records::Batch,
    columns: ActionColumns,
    dated_range: Option<(i64, i64)>,
}

/// Lays a file's actions out as columns as they are read, hashing each from the
/// document's text (no owned copy of an action is made).
struct ColumnSink {
    columns: ActionColumns,
    dated_range: Option<(i64, i64)>,
    scratch: Vec<u8>,
}

impl ingest::Sink for ColumnSink {
    fn take(&mut self, a: &crate::model::ActionRef<'_>) {
        if let Some(t) = a.datetime {
            let (lo, hi) = self.dated_range.get_or_insert((t, t));
            *lo = (*lo).min(t);
            *hi = (*hi).max(t);
        }
        self.columns.push_ref(a, &mut self.scratch);
    }
}

fn parse_file(path: &Path) -> ParsedFile {
    let label = path.display().to_string();
    let mut sink = ColumnSink {
        // Room for a page of Halo's largest page size (100), so columns rarely regrow.
        columns: ActionColumns::with_capacity(128),
        dated_range: None,
        scratch: Vec::with_capacity(2048),
    };
    thread_local! {
        // Each worker's input buffer, reused file after file (saved answers are pages of
        // about a megabyte; a buffer grown past KEEP_INPUT_BYTES by a large export is
        // let go after its file, not held for the rest of the import).
        static INPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    const KEEP_INPUT_BYTES: usize = 64 << 20;
    let mut records = crate::records::Batch::default();
    let result = INPUT.with_borrow_mut(|bytes| {
        let result = match ingest::read_input_into(path, bytes) {
            Ok(()) => match ingest::records::envelope_of(bytes) {
                // A saved answer of a record endpoint (contracts, prepay, invoices).
                Some(table) => {
                    let r = ingest::records::parse(&label, bytes, table);
                    records = r.batch;
                    FileResult {
                        rejects: r.rejects,
                        ..Default::default()
                    }
                }
                None => ingest::parse_document_into(&label, bytes, &mut sink),
            },
            Err(e) => unreadable(label, e),
        };
        if bytes.capacity() > KEEP_INPUT_BYTES {
            *bytes = Vec::new();
        }
        result
    });
    ParsedFile {
        result,
        records,
        columns: sink.columns,
        dated_range: sink.dated_range,
    }
}

/// Reads `files` in batches of about BATCH_BYTES, parsed in parallel, and sends their
/// actions in input order to the staging thread in frames of FRAME_ROWS rows or more,
/// each as the files' own columns (the staging thread copies them into one frame).
fn feed(
    files: &[PathBuf],
    sizes: &[u64],
    bar: &crate::progress::Bar,
    to_stage: &std::sync::mpsc::SyncSender<Vec<ActionColumns>>,
    out: &mut ImportOutcome,
    unclean_files: &mut [bool],
    refused: &mut Vec<(i64, i64)>,
) -> Result<(), Error> {
    let mut frame: Vec<ActionColumns> = Vec::new();
    let mut rows = 0;
    // A send fails only when the staging thread stopped on an error, which it returns.
    let stopped = || Ok(());
    let mut start = 0;
    while start < files.len() {
        if let Some((signal, code)) = crate::interrupt::requested() {
            return Err(Error::Interrupted {
                signal,
                code,
                detail: format!(
                    "stopped before the commit, after {start} of {} file(s): the store is unchanged; run the same command again",
                    files.len()
                ),
            });
        }
        let mut end = start;
        let mut bytes = 0;
        while end < files.len()
            && (end == start || (bytes + sizes[end] <= BATCH_BYTES && end - start < BATCH_FILES))
        {
            bytes += sizes[end];
            end += 1;
        }
        let parsed: Vec<ParsedFile> = files[start..end]
            .par_iter()
            .map(|p| parse_file(p))
            .collect();
        for (i, p) in parsed.into_iter().enumerate() {
            let r = p.result;
            out.records.extend(p.records);
            unclean_files[start + i] = !r.rejects.is_empty();
            refused.extend(r.rejects.iter().filter_map(|x| Some((x.ticket_id?, x.id?))));
            out.details_merged += r.details_merged;
            out.without_billing += r.incomplete.len();
            out.rejects.extend(r.rejects);
            if let Some((lo, hi)) = p.dated_range {
                let (a, b) = out.dated_range.get_or_insert((lo, hi));
                *a = (*a).min(lo);
                *b = (*b).max(hi);
            }
            rows += p.columns.len();
            frame.push(p.columns);
            if rows >= FRAME_ROWS || frame.len() >= BATCH_FILES {
                rows = 0;
                if to_stage.send(std::mem::take(&mut frame)).is_err() {
                    return stopped();
                }
            }
        }
        bar.inc(bytes);
        start = end;
    }
    if rows > 0 && to_stage.send(frame).is_err() {
        return stopped();
    }
    Ok(())
}

/// Imports `files` (already discovered, in input order) into the store at `store_path`.
/// Refused records are written to `rejects_path` or the store's rejects folder.
///
/// `windows` are completed sync windows, each wholly in one of `files`: stored actions in
/// them that the files lack are tombstoned, subject to `guard`, but only for windows whose
/// file was read whole with no record refused (a refused record never displaces the
/// stored copy of its action).
pub fn import_files(
    files: &[PathBuf],
    store_path: &Path,
    rejects_path: Option<PathBuf>,
    windows: &[CompleteWindow],
    guard: DeletionGuard,
    progress: &Progress,
) -> Result<ImportOutcome, Error> {
    let store = Store::open(store_path)?;
    let mut writer = Writer::begin(&store, progress)?;
    let mut unclean_files = vec![false; files.len()];
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
        unclean_windows: Vec::new(),
        held_file: None,
        dated_range: None,
        migrated: writer.migrated.clone(),
        records: crate::records::Batch::default(),
    };
    let mut refused: Vec<(i64, i64)> = Vec::new();
    // Two stages overlap: the rayon workers parse, validate, hash and lay out each
    // file's actions as columns; a plain staging thread (polars is never called from a
    // rayon closure) turns every FRAME_ROWS rows into a frame and stages it by month,
    // while the workers go on with the next batch.
    let (to_stage, staged) = std::sync::mpsc::sync_channel::<Vec<ActionColumns>>(1);
    let writer = std::thread::scope(|scope| -> Result<Writer, Error> {
        let stager = std::thread::Builder::new()
            .name("staging".into())
            .spawn_scoped(scope, move || -> Result<Writer, Error> {
                for parts in staged {
                    writer
                        .stage(ActionColumns::frame_of(&parts).expect("columns of equal length"))?;
                }
                Ok(writer)
            })
            .map_err(|source| Error::Output {
                path: store_path.to_path_buf(),
                source,
            })?;
        let fed = feed(
            files,
            &sizes,
            &bar,
            &to_stage,
            &mut out,
            &mut unclean_files,
            &mut refused,
        );
        drop(to_stage);
        let writer = stager.join().expect("the staging thread does not panic");
        fed?;
        writer
    });
    let mut writer = writer?;
    writer.refused_keys(refused);
    bar.finish();
    let (clean, unclean): (Vec<&CompleteWindow>, Vec<&CompleteWindow>) =
        windows.iter().partition(|w| !unclean_files[w.file]);
    out.unclean_windows = unclean.iter().map(|w| (w.from_ns, w.to_ns)).collect();
    let clean: Vec<(i64, i64)> = clean.iter().map(|w| (w.from_ns, w.to_ns)).collect();
    writer.windows_complete(&clean, guard);
    writer.add_records(out.records.clone());
    out.stats = writer.commit(progress)?;
    if !out.stats.held_actions.is_empty() {
        out.held_file = Some(store.write_held_deletions(&out.stats.held_actions)?);
    }
    if !out.rejects.is_empty() {
        let path = rejects_path.unwrap_or_else(|| store.new_rejects_path());
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
