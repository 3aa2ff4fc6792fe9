//! `halo-billing import`: saved API responses into the store.

use super::StoreArg;
use crate::error::Error;
use crate::ingest;
use crate::pipeline::{self, ImportOutcome};
use crate::progress::Progress;
use std::path::PathBuf;

/// Import saved Halo API responses (files or folders) into the store.
///
/// Reads what `GET /api/Actions` returns: the wrapper `{"record_count": N, "actions":
/// [...]}` (with full records in `actionsdetails` where present), a bare JSON array, or
/// NDJSON; plain or gzip-compressed. Folders are read recursively (files ending .json,
/// .ndjson or .jsonl, optionally .gz, in any letter case), in name order; other files in
/// them are counted in the summary as skipped (--verbose lists them).
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
    /// List every file skipped in the folders given.
    #[arg(long, short)]
    verbose: bool,
}

/// How many refused records are printed before the rest are left to the rejects file.
pub(crate) const SHOWN_REJECTS: usize = 20;

/// Prints refused records (always, even with --quiet: losing one silently is worse than a
/// noisy log) and returns the exit decision.
pub(crate) fn finish_rejects(out: &ImportOutcome, allow: bool) -> Result<(), Error> {
    for r in out.rejects.iter().take(SHOWN_REJECTS) {
        eprintln!("halo-billing: refused {r}");
    }
    if out.rejects.len() > SHOWN_REJECTS {
        eprintln!(
            "halo-billing: ... and {} more refused records",
            out.rejects.len() - SHOWN_REJECTS
        );
    }
    match &out.rejects_file {
        Some(path) => {
            eprintln!(
                "halo-billing: refused records written to `{}`",
                path.display()
            );
            if allow {
                Ok(())
            } else {
                Err(Error::Rejected {
                    count: out.rejects.len(),
                    path: path.clone(),
                })
            }
        }
        None => Ok(()),
    }
}

/// The one-line summary of a commit.
pub(crate) fn describe(store: &std::path::Path, out: &ImportOutcome) -> String {
    let s = &out.stats;
    let mut line = String::new();
    if let Some(m) = &out.migrated {
        line.push_str(&super::describe_migration(store, m));
        line.push_str("\nhalo-billing: ");
    }
    line.push_str(&format!(
        "imported into `{}`: {} read, {} new, {} updated, {} unchanged, {} marked deleted, {} duplicate copies merged, {} older copies ignored, \
         {} summary+detail pairs joined, {} refused; store now holds {} actions ({} files written, {} kept, {} bytes written)",
        store.display(),
        s.input_rows + out.rejects.len() as u64,
        s.new,
        s.replaced,
        s.unchanged,
        s.tombstoned,
        s.duplicates_merged,
        s.stale_ignored,
        out.details_merged,
        out.rejects.len(),
        s.stored_after,
        s.files_written,
        s.files_kept,
        s.bytes_written,
    ));
    if !s.records.is_empty() {
        let parts: Vec<String> = s
            .records
            .iter()
            .map(|r| {
                format!(
                    "{} {} read, {} new, {} changed, {} stored",
                    r.table.replace('_', " "),
                    r.offered,
                    r.new,
                    r.changed,
                    r.stored_after
                )
            })
            .collect();
        line.push_str(&format!(
            "\nhalo-billing: Halo's records: {} (never deleted for being absent from an answer)",
            parts.join("; ")
        ));
    }
    if !s.kept_despite_refusal.is_empty() {
        let keys: Vec<String> = s
            .kept_despite_refusal
            .iter()
            .take(20)
            .map(|(t, i)| format!("({t}, {i})"))
            .collect();
        line.push_str(&format!(
            "\nhalo-billing: {} refused record(s) have a stored copy, which stays in the store and the reports: (ticket_id, id) {}{}",
            s.kept_despite_refusal.len(),
            keys.join(" "),
            if s.kept_despite_refusal.len() > 20 { " …" } else { "" }
        ));
    }
    if !out.unclean_windows.is_empty() {
        line.push_str(&format!(
            "\nhalo-billing: {} window(s) with refused records deleted nothing (actions missing from them stay): {}",
            out.unclean_windows.len(),
            out.unclean_windows
                .iter()
                .map(|&(f, t)| crate::sync::state::window_key(f, t))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if s.deletions_held > 0 {
        line.push_str(&held_deletions(out));
    }
    if out.without_billing > 0 {
        line.push_str(&format!(
            "\nhalo-billing: warning: {} action(s) arrived without any billing field (list summaries); their billing \
             figures are zero. Save responses with full records (actionsdetails or GET /Actions/{{id}}), or use `sync`",
            out.without_billing
        ));
    }
    line
}

/// The held deletions: why, each window on its own line, the first actions by
/// `(ticket_id, id)` and the file that lists them all.
fn held_deletions(out: &ImportOutcome) -> String {
    const WINDOWS_SHOWN: usize = 30;
    const ACTIONS_SHOWN: usize = 20;
    let s = &out.stats;
    let mut text = format!(
        "\nhalo-billing: {} deletion(s) held back ({}); the actions stay in the store. In {} window(s):",
        s.deletions_held,
        s.held_reason,
        s.held_windows.len()
    );
    for w in s.held_windows.iter().take(WINDOWS_SHOWN) {
        text.push_str(&format!(
            "\n  {}: {} of {} stored action(s) no longer returned",
            crate::sync::state::window_key(w.from_ns, w.to_ns),
            w.missing,
            w.stored
        ));
    }
    if s.held_windows.len() > WINDOWS_SHOWN {
        text.push_str(&format!(
            "\n  … and {} more window(s)",
            s.held_windows.len() - WINDOWS_SHOWN
        ));
    }
    let keys: Vec<String> = s
        .held_actions
        .iter()
        .take(ACTIONS_SHOWN)
        .map(|((t, i), _)| format!("({t}, {i})"))
        .collect();
    text.push_str(&format!(
        "\nhalo-billing: check these in Halo, (ticket_id, id): {}{}",
        keys.join(" "),
        if s.held_actions.len() > ACTIONS_SHOWN {
            format!(" … ({} more)", s.held_actions.len() - ACTIONS_SHOWN)
        } else {
            String::new()
        }
    ));
    if let Some(f) = &out.held_file {
        text.push_str(&format!(
            "\nhalo-billing: all {} are listed in `{}`",
            s.held_actions.len(),
            f.display()
        ));
    }
    text
}

/// Runs `import`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let store_path = args.store.path();
    ingest::max_input_bytes().map_err(Error::Usage)?;
    let found = ingest::discover(&args.paths)?;
    if let Some(r) = &args.rejects {
        let target = crate::fsutil::resolved(r);
        if let Some(input) = found
            .files
            .iter()
            .find(|f| crate::fsutil::resolved(f) == target && !crate::fsutil::is_special(r))
        {
            return Err(Error::Usage(format!(
                "--rejects `{}` is an input of this import (`{}`): it would be replaced by its own refused records; write them elsewhere",
                r.display(),
                input.display()
            )));
        }
    }
    args.store
        .refuse_inside(args.rejects.as_deref(), "--rejects", Some("rejects"))?;
    // One writer from start to end: a second import or sync is refused at once.
    let _lock = crate::store::StoreLock::acquire(&store_path)?;
    if !found.skipped.is_empty() {
        let mut note = format!(
            "{} file(s) in the folders given were skipped: their names do not end in .json, .ndjson or .jsonl (optionally .gz)",
            found.skipped.len()
        );
        if args.verbose {
            for p in &found.skipped {
                note.push_str(&format!("\n  skipped {}", p.display()));
            }
        } else {
            note.push_str(" (--verbose lists them)");
        }
        progress.note(&note);
    }
    let files = found.files;
    let out = pipeline::import_files(
        &files,
        &store_path,
        args.rejects,
        &[],
        Default::default(),
        progress,
    )?;
    if let Some((first, last)) = out.dated_range {
        crate::store::Store::open(&store_path)?.record_import(first, last)?;
    }
    progress.note(&describe(&store_path, &out));
    finish_rejects(&out, args.allow_rejects)
}
