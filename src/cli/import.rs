//! `halo-billing import`: saved API responses into the store.

use super::StoreArg;
use crate::error::Error;
use crate::frame::ActionColumns;
use crate::ingest::{self, FileResult, reject::Reject};
use crate::progress::Progress;
use crate::store::{CommitStats, Store, Writer};
use rayon::prelude::*;
use std::path::PathBuf;

/// Import saved Halo API responses (files or folders) into the store.
///
/// Reads what `GET /api/Actions` returns: the wrapper `{"record_count": N, "actions":
/// [...]}` (with full records in `actionsdetails` where present), a bare JSON array, or
/// NDJSON; plain or gzip-compressed. Folders are read recursively (files ending .json,
/// .ndjson or .jsonl, optionally .gz), in name order.
///
/// An action is identified by (ticket_id, id). When the input holds several copies, the
/// one with the later last_updated is kept (without it, the later one in the input), and
/// the same rule merges the input into what the store already holds.
///
/// A record that cannot be read is refused: it is printed with file, line and reason and
/// written, with its original text, to a rejects file (default:
/// STORE/rejects/import-<time>.ndjson). Every valid record is imported either way; the
/// exit code is 3 when anything was refused, unless --allow-rejects is given.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Files or folders to import.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    store: StoreArg,
    /// Exit 0 even when some records were refused (they are still reported and written
    /// to the rejects file).
    #[arg(long)]
    allow_rejects: bool,
    /// Where to write refused records (NDJSON) [default: STORE/rejects/import-<time>.ndjson].
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
}

/// How many refused records are printed before the rest are left to the rejects file.
const SHOWN_REJECTS: usize = 20;
/// Actions per staged frame: bounds memory on large imports.
const FRAME_ROWS: usize = 250_000;
/// Input bytes read and parsed in parallel at a time.
const BATCH_BYTES: u64 = 64 << 20;

/// Imports `paths` into the store at `store_path`; the shared core of `import` and `demo`.
pub(crate) fn import_paths(
    paths: &[PathBuf],
    store_path: &std::path::Path,
    rejects_path: Option<PathBuf>,
    progress: &Progress,
) -> Result<(CommitStats, Vec<Reject>, Option<PathBuf>, usize), Error> {
    let files = ingest::discover(paths)?;
    let store = Store::open(store_path)?;
    let mut writer = Writer::begin(&store)?;
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let bar = progress.bar(sizes.iter().sum(), "reading input bytes");
    let mut rejects: Vec<Reject> = Vec::new();
    let mut details_merged = 0;
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
                    Err(e) => FileResult {
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
                    },
                }
            })
            .collect();
        for r in results {
            details_merged += r.details_merged;
            rejects.extend(r.rejects);
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
    let stats = writer.commit(progress)?;
    let rejects_file = if rejects.is_empty() {
        None
    } else {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let path = rejects_path.unwrap_or_else(|| store.rejects_path(&stamp));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Output {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        ingest::reject::write_rejects(&path, &rejects).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })?;
        Some(path)
    };
    Ok((stats, rejects, rejects_file, details_merged))
}

/// Runs `import`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let store_path = args.store.path();
    let (stats, rejects, rejects_file, details) =
        import_paths(&args.paths, &store_path, args.rejects, progress)?;
    // Refused records are always shown (even with --quiet): losing one silently is worse
    // than a noisy log.
    for r in rejects.iter().take(SHOWN_REJECTS) {
        eprintln!("halo-billing: refused {r}");
    }
    if rejects.len() > SHOWN_REJECTS {
        eprintln!(
            "halo-billing: ... and {} more refused records",
            rejects.len() - SHOWN_REJECTS
        );
    }
    progress.note(&format!(
        "imported into `{}`: {} read, {} new, {} replaced, {} duplicate copies merged, {} older copies ignored, \
         {} summary+detail pairs joined, {} refused; store now holds {} actions ({} files written, {} kept)",
        store_path.display(),
        stats.input_rows + rejects.len() as u64,
        stats.new,
        stats.replaced,
        stats.duplicates_merged,
        stats.stale_ignored,
        details,
        rejects.len(),
        stats.stored_after,
        stats.files_written,
        stats.files_kept,
    ));
    match rejects_file {
        Some(path) => {
            eprintln!(
                "halo-billing: refused records written to `{}`",
                path.display()
            );
            if args.allow_rejects {
                Ok(())
            } else {
                Err(Error::Rejected {
                    count: rejects.len(),
                    path,
                })
            }
        }
        None => Ok(()),
    }
}
