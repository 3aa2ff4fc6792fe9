//! What a sync keeps between runs, in the store folder: the windows it has committed
//! (`STORE/sync/windows.json`, window -> time of commit) and the windows it has fetched
//! but not committed (`STORE/sync/pending/<from>_<to>.json`, the response bodies as
//! received, written atomically).

use crate::error::Error;
use crate::ingest::halo::fetch::halo_time;
use crate::store::Store;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Committed windows: `window_key` -> when (UTC, RFC 3339).
pub type SyncState = BTreeMap<String, String>;

/// The pending file of window `[from, to)`.
pub fn window_file(store: &Store, from: i64, to: i64) -> PathBuf {
    let compact = |ns: i64| halo_time(ns).replace(['-', ':'], "");
    store
        .sync_pending_dir()
        .join(format!("{}Z_{}Z.json", compact(from), compact(to)))
}

/// The name of window `[from, to)` in the state file and in messages.
pub fn window_key(from: i64, to: i64) -> String {
    format!("{}Z..{}Z", halo_time(from), halo_time(to))
}

/// Reads the committed windows (none when the file does not exist yet).
pub fn load_state(path: &Path) -> Result<SyncState, Error> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::State {
            path: path.to_path_buf(),
            reason: format!(
                "{e}; delete it to make the next sync fetch every window again (nothing stored is lost)"
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncState::new()),
        Err(source) => Err(Error::Input {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replaces the state file atomically.
pub fn save_state(path: &Path, state: &SyncState) -> Result<(), Error> {
    crate::fsutil::write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, state)?;
        std::io::Write::write_all(w, b"\n")
    })
    .map_err(|source| Error::Output {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates the pending folder and removes half-written window files of a killed run
/// (temporary names start with a dot); returns the folder.
pub fn prepare_pending(store: &Store) -> Result<PathBuf, Error> {
    let dir = store.sync_pending_dir();
    let out = |source| Error::Output {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(out)?;
    for e in std::fs::read_dir(&dir).map_err(out)?.flatten() {
        if e.file_name().to_string_lossy().starts_with('.') {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(dir)
}

/// The whole-window split of `[from, to)` into windows of `step` nanoseconds.
pub fn windows(from: i64, to: i64, step: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let end = t.saturating_add(step).min(to);
        out.push((t, end));
        t = end;
    }
    out
}
