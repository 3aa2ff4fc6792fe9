//! One writer at a time: a lock file naming the writer's pid and start time.
//!
//! A lock whose process no longer exists (it was killed) is stale and is broken: it is
//! first renamed aside, then checked again, so two processes that both find it stale
//! cannot both break a lock that one of them has just taken. Readers take no lock; they
//! only ever see committed manifests.

use super::StoreError;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file's name inside the store folder.
pub const LOCK_FILE: &str = ".lock";

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    path: PathBuf,
    /// False when this process already held the lock (nested use): dropping it then
    /// leaves the outer holder's lock in place.
    owned: bool,
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

fn holder(text: &str) -> Option<(u32, String)> {
    let mut it = text.split_whitespace();
    let pid = it.next()?.parse().ok()?;
    Some((pid, it.collect::<Vec<_>>().join(" ")))
}

impl StoreLock {
    /// Takes the lock of the store at `root` (creating the folder), or says who holds it.
    pub fn acquire(root: &Path) -> Result<StoreLock, StoreError> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(root).map_err(io("cannot create", root))?;
        let path = root.join(LOCK_FILE);
        let me = std::process::id();
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let since =
                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    f.write_all(format!("{me} {since}\n").as_bytes())
                        .map_err(io("cannot write", &path))?;
                    f.sync_all().map_err(io("cannot flush", &path))?;
                    return Ok(StoreLock { path, owned: true });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    match holder(&text) {
                        Some((pid, _)) if pid == me => return Ok(StoreLock { path, owned: false }),
                        Some((pid, since)) if alive(pid) => {
                            return Err(StoreError::Locked {
                                path: root.to_path_buf(),
                                pid,
                                since,
                            });
                        }
                        _ => {
                            // Stale (its process is gone) or unreadable: move it aside and make
                            // sure what we moved is what we judged.
                            let aside = root.join(format!("{LOCK_FILE}.stale-{me}"));
                            if fs::rename(&path, &aside).is_ok() {
                                let moved = fs::read_to_string(&aside).unwrap_or_default();
                                if moved == text {
                                    let _ = fs::remove_file(&aside);
                                } else {
                                    let _ = fs::rename(&aside, &path);
                                }
                            }
                        }
                    }
                }
                Err(e) => return Err(io("cannot create", &path)(e)),
            }
        }
        let text = fs::read_to_string(&path).unwrap_or_default();
        let (pid, since) = holder(&text).unwrap_or((0, "an unknown time".into()));
        Err(StoreError::Locked {
            path: root.to_path_buf(),
            pid,
            since,
        })
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if self.owned {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_refused_and_stale_lock_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let held = StoreLock::acquire(dir.path()).unwrap();
        // Nested use in the same process is allowed and does not release the lock.
        drop(StoreLock::acquire(dir.path()).unwrap());
        assert!(dir.path().join(LOCK_FILE).exists());
        drop(held);
        assert!(!dir.path().join(LOCK_FILE).exists());
        // A live process (pid 1) holds it: refused, naming the pid.
        fs::write(dir.path().join(LOCK_FILE), "1 2026-11-28T05:00:00Z\n").unwrap();
        let e = StoreLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("locked by pid 1 since 2026-11-28T05:00:00Z"),
            "{e}"
        );
        // A dead process: broken and taken.
        fs::write(
            dir.path().join(LOCK_FILE),
            "4194303999 2026-11-28T05:00:00Z\n",
        )
        .unwrap();
        let l = StoreLock::acquire(dir.path()).unwrap();
        assert!(
            fs::read_to_string(dir.path().join(LOCK_FILE))
                .unwrap()
                .starts_with(&std::process::id().to_string())
        );
        drop(l);
    }
}
