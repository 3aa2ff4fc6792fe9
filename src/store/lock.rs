//! One writer at a time: an advisory lock on `STORE/.lock`, held by the operating system
//! (`flock` on Unix, `LockFileEx` on Windows) for as long as the writer's process has the
//! file open, and released by the system when the process ends, however it ends. The
//! file also names the writer's pid and start time, for messages and `status`; it stays
//! in place between writers (deleting a locked file would let two writers lock two
//! different files).
//!
//! Readers take no lock; they only ever see committed manifests.

use super::StoreError;
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The lock file's name inside the store folder.
pub const LOCK_FILE: &str = ".lock";

/// Stores whose lock this process holds (a second `acquire` in the same process nests).
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    /// The open, locked file; `None` for a nested use, which leaves the outer holder's
    /// lock in place when dropped.
    file: Option<File>,
    key: PathBuf,
}

/// Who holds a store's lock: what its lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The writer's process id (0 when the file does not say).
    pub pid: u32,
    /// When it took the lock (UTC, RFC 3339).
    pub since: String,
    /// Its command line (`halo-billing sync --period 2026-11`), when the file says.
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if !self.command.is_empty() {
            write!(f, " (`{}`)", self.command)?;
        }
        write!(f, " since {}", self.since)
    }
}

/// Reads a lock file's text: `PID<TAB>SINCE<TAB>COMMAND` (older files: `PID SINCE`).
fn holder(text: &str) -> Holder {
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.splitn(3, '\t');
    let (first, since, command) = (parts.next(), parts.next(), parts.next());
    let (pid, since) = match since {
        Some(s) => (first.and_then(|p| p.trim().parse().ok()), s.to_string()),
        None => {
            let mut it = line.split_whitespace();
            let pid = it.next().and_then(|p| p.parse().ok());
            (pid, it.collect::<Vec<_>>().join(" "))
        }
    };
    Holder {
        pid: pid.unwrap_or(0),
        since: if since.is_empty() {
            "an unknown time".into()
        } else {
            since
        },
        command: command.unwrap_or_default().trim().to_string(),
    }
}

/// This process's command line as a person would read it (at most 200 characters).
fn this_command() -> String {
    let mut words = vec!["halo-billing".to_string()];
    words.extend(std::env::args().skip(1).map(|a| {
        if a.is_empty() || a.contains(char::is_whitespace) {
            format!("'{a}'")
        } else {
            a
        }
    }));
    let line = words.join(" ").replace(['\t', '\n', '\r'], " ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl StoreLock {
    /// Takes the lock of the store at `root` (creating the folder), or says who holds it.
    pub fn acquire(root: &Path) -> Result<StoreLock, StoreError> {
        fs::create_dir_all(root).map_err(io("cannot create", root))?;
        let key = fs::canonicalize(root).map_err(io("cannot resolve", root))?;
        let mut held = HELD.lock().expect("held locks");
        if held.contains(&key) {
            return Ok(StoreLock { file: None, key });
        }
        let path = root.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("cannot open", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let text = fs::read_to_string(&path).unwrap_or_default();
                return Err(StoreError::Locked {
                    path: root.to_path_buf(),
                    holder: holder(&text),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io("cannot lock", &path)(e)),
        }
        let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        file.set_len(0).map_err(io("cannot write", &path))?;
        file.rewind().map_err(io("cannot write", &path))?;
        file.write_all(format!("{}\t{since}\t{}\n", std::process::id(), this_command()).as_bytes())
            .map_err(io("cannot write", &path))?;
        held.push(key.clone());
        Ok(StoreLock {
            file: Some(file),
            key,
        })
    }

    /// Who holds the lock of the store at `root` now, if anyone.
    pub fn holder(root: &Path) -> Option<Holder> {
        let path = root.join(LOCK_FILE);
        let file = File::open(&path).ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => Some(holder(&fs::read_to_string(&path).unwrap_or_default())),
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let mut held = HELD.lock().expect("held locks");
            held.retain(|k| k != &self.key);
            // Closing the file releases the lock.
            drop(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_in_the_same_process_nests_and_the_lock_goes_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = StoreLock::acquire(dir.path()).unwrap();
        assert_eq!(
            StoreLock::holder(dir.path()).map(|h| h.pid),
            Some(std::process::id())
        );
        let held_by = StoreLock::holder(dir.path()).unwrap();
        assert!(held_by.command.starts_with("halo-billing"), "{held_by}");
        // A lock file of an earlier version (`PID SINCE`) still names its holder.
        assert_eq!(
            holder("4194303 2026-11-28T05:00:00Z\n"),
            Holder {
                pid: 4194303,
                since: "2026-11-28T05:00:00Z".into(),
                command: String::new()
            }
        );
        // Nested use in the same process is allowed and does not release the lock.
        drop(StoreLock::acquire(dir.path()).unwrap());
        assert!(StoreLock::holder(dir.path()).is_some());
        drop(held);
        assert_eq!(StoreLock::holder(dir.path()), None);
        // A lock file left behind (its process gone) is no lock at all.
        fs::write(
            dir.path().join(LOCK_FILE),
            "4194303999 2026-11-28T05:00:00Z\n",
        )
        .unwrap();
        drop(StoreLock::acquire(dir.path()).unwrap());
    }
}
