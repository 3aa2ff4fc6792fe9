//! Every store file is checked against what the manifest recorded of it before anything
//! is computed from it. A file that differs (a flipped bit, a truncation, another
//! month's file copied over it) is an error naming it and the way back, never a figure.
//!
//! What is checked is what is read: the manifest holds, per file, the XXH3-64 of each
//! row group's bytes and of the footer's (`FileEntry::ranges`), so a report that takes a
//! month from the summaries in a file's footer checks the footer, and one that reads a
//! contract's rows checks the row groups holding them. A reader of the whole file
//! (a commit, a migration, a lazy scan) checks it whole (`FileEntry::xxh3`, or the
//! SHA-256 of files written before either was recorded). The size is always checked.
//! Each stretch is checked once per process.

use super::{FileEntry, Store, StoreError};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A stretch of a file and the checksum it matched: (file, from, to, checksum).
type Stretch = (PathBuf, u64, u64, String);

/// Stretches this process has checked.
static CHECKED: Mutex<Option<HashSet<Stretch>>> = Mutex::new(None);

fn checked(key: &Stretch) -> bool {
    CHECKED
        .lock()
        .expect("checked stretches")
        .as_ref()
        .is_some_and(|s| s.contains(key))
}

fn remember(key: Stretch) {
    CHECKED
        .lock()
        .expect("checked stretches")
        .get_or_insert_with(HashSet::new)
        .insert(key);
}

/// The ranges a reader checks of the Parquet file `buf`: each row group's bytes, then
/// the footer's (from the end of the last row group to the end of the file).
pub(super) fn ranges_of(
    buf: &[u8],
    path: &Path,
) -> Result<Vec<super::manifest::Range>, StoreError> {
    let meta =
        polars_parquet::read::read_metadata(&mut std::io::Cursor::new(buf)).map_err(|source| {
            StoreError::Parquet {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let mut out = Vec::with_capacity(meta.row_groups.len() + 1);
    let mut row = 0u64;
    // Every byte is in one range, the ranges one after another: the first takes the
    // leading magic, each any bytes between its row group and the one before.
    let mut end = 0u64;
    for g in &meta.row_groups {
        let to = g.full_byte_range().end.max(end);
        out.push((row, end, to, hex64(&buf[end as usize..to as usize])));
        row += g.num_rows() as u64;
        end = to;
    }
    out.push((row, end, buf.len() as u64, hex64(&buf[end as usize..])));
    Ok(out)
}

fn hex64(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// What the manifest recorded of a file's content, for a whole-file check.
enum Sum<'a> {
    Xxh3(&'a str),
    Sha256(&'a str),
}

impl Store {
    /// Checks `file` whole against the size and checksum the manifest recorded when it
    /// was written. A file with none recorded (a close's frozen copy:
    /// [`Store::verify_close`] checks those) passes.
    pub fn verify_file(&self, file: &FileEntry) -> Result<(), StoreError> {
        let sum = match (&file.xxh3, file.sha256.as_str()) {
            (Some(x), _) => Sum::Xxh3(x),
            (None, s) if !s.is_empty() => Sum::Sha256(s),
            _ => return Ok(()),
        };
        let want = match &sum {
            Sum::Xxh3(s) | Sum::Sha256(s) => s.to_string(),
        };
        let path = self.root.join(&file.path);
        let key = (path.clone(), 0, file.bytes, want.clone());
        if checked(&key) {
            return Ok(());
        }
        let (len, got) = digest(&path, &sum)?;
        if len != file.bytes {
            return Err(damaged(&path, file, len));
        }
        if got != want {
            return Err(StoreError::Damaged {
                path,
                reason: "differs from the checksum the manifest recorded when it was written"
                    .into(),
            });
        }
        remember(key);
        Ok(())
    }

    /// Checks what a reader of `file` reads: its footer, and the row groups holding rows
    /// `[offset, offset + len)` (`None`: the footer alone). A file written before row
    /// group checksums were recorded is checked whole.
    pub fn verify_read(
        &self,
        file: &FileEntry,
        rows: Option<(usize, usize)>,
    ) -> Result<(), StoreError> {
        if file.ranges.is_empty() {
            return self.verify_file(file);
        }
        let path = self.root.join(&file.path);
        let len = std::fs::metadata(&path)
            .map_err(|source| StoreError::Io {
                action: "cannot read",
                path: path.clone(),
                source,
            })?
            .len();
        if len != file.bytes {
            return Err(damaged(&path, file, len));
        }
        let n = file.ranges.len();
        let wanted = file.ranges.iter().enumerate().filter(|(i, r)| {
            let footer = *i + 1 == n;
            footer
                || rows.is_some_and(|(offset, count)| {
                    let first = r.0 as usize;
                    let next = file.ranges.get(i + 1).map_or(usize::MAX, |s| s.0 as usize);
                    count > 0 && first < offset + count && offset < next
                })
        });
        let mut f: Option<std::fs::File> = None;
        for (_, (_, from, to, want)) in wanted {
            let key = (path.clone(), *from, *to, want.clone());
            if checked(&key) {
                continue;
            }
            let io = |source| StoreError::Io {
                action: "cannot read",
                path: path.clone(),
                source,
            };
            let file_handle = match &mut f {
                Some(h) => h,
                None => f.insert(std::fs::File::open(&path).map_err(io)?),
            };
            let mut buf = vec![0u8; (to - from) as usize];
            file_handle.seek(SeekFrom::Start(*from)).map_err(io)?;
            file_handle.read_exact(&mut buf).map_err(io)?;
            if hex64(&buf) != *want {
                return Err(StoreError::Damaged {
                    path,
                    reason: format!(
                        "differs, in bytes {from} to {to}, from the checksum the manifest recorded when it was written"
                    ),
                });
            }
            remember(key);
        }
        Ok(())
    }
}

fn damaged(path: &Path, file: &FileEntry, len: u64) -> StoreError {
    StoreError::Damaged {
        path: path.to_path_buf(),
        reason: format!(
            "is {len} bytes long, and the manifest recorded {} when it was written",
            file.bytes
        ),
    }
}

/// The length and checksum (of the kind `sum` names) of the file at `path`, read in
/// pieces of 1 MiB.
fn digest(path: &Path, sum: &Sum<'_>) -> Result<(u64, String), StoreError> {
    let io = |source| StoreError::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    let mut xxh = xxhash_rust::xxh3::Xxh3::new();
    let mut sha = <sha2::Sha256 as sha2::Digest>::new();
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        match sum {
            Sum::Xxh3(_) => xxh.update(&buf[..n]),
            Sum::Sha256(_) => sha2::Digest::update(&mut sha, &buf[..n]),
        }
    }
    let hex = match sum {
        Sum::Xxh3(_) => format!("{:032x}", xxh.digest128()),
        Sum::Sha256(_) => sha2::Digest::finalize(sha)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    };
    Ok((len, hex))
}
