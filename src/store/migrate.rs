//! Recomputing the `content_hash` column of a store written under another hash scheme
//! (stores written before the scheme was fixed held a hash of no fixed specification).
//!
//! Done once, by the next writer, while it holds the lock, as one commit of its own:
//! every data and tombstone file is rewritten with hashes computed from its columns
//! ([`crate::frame::content_hashes`]), then the manifest switches to the new scheme.
//! Closed periods keep their frozen copies untouched: each is first checked against the
//! digest recorded at its close (over the hashes it was written with), then sealed with
//! the SHA-256 of its file, which every later read verifies.

use super::closed::{digest, key_hashes};
use super::manifest::{FILE_NAME, Manifest};
use super::write::{write_parquet, write_partition};
use super::{FileEntry, Store, StoreError, read_parquet, sha256_hex};
use crate::frame::{self, col};
use crate::fsutil;
use crate::model::canon::HASH_SCHEME;
use polars::prelude::*;

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migration {
    /// Files rewritten.
    pub files: usize,
    /// Rows whose hash was recomputed.
    pub rows: u64,
    /// Closed periods checked and sealed with their file's SHA-256.
    pub closes_sealed: usize,
}

impl Store {
    /// Whether the store's hashes are of the current scheme.
    pub fn hashes_current(&self) -> bool {
        self.manifest.hash_scheme == HASH_SCHEME
    }

    /// Migrates the store to the current hash scheme, if it is not on it. The caller
    /// holds the lock; afterwards it must open the store again.
    pub fn migrate_hashes(&self) -> Result<Option<Migration>, StoreError> {
        if self.hashes_current() {
            return Ok(None);
        }
        let mut done = Migration {
            closes_sealed: self.seal_closes()?,
            ..Default::default()
        };
        let generation = self.manifest.generation + 1;
        let mut files = Vec::new();
        for (k, f) in self.manifest.files.iter().enumerate() {
            let rel = format!(
                "actions/year={}/month={}/part-g{generation:06}-m{k:04}.parquet",
                f.year, f.month
            );
            files.push(self.rehash(f, rel, true, &mut done)?);
        }
        let mut tombstones = Vec::new();
        for (k, f) in self.manifest.tombstones.iter().enumerate() {
            let rel = format!("tombstones/part-g{generation:06}-m{k:04}.parquet");
            tombstones.push(self.rehash(f, rel, false, &mut done)?);
        }
        let manifest = Manifest {
            generation,
            committed_at: Some(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            files,
            tombstones,
            ..Manifest::default()
        };
        let mpath = self.root.join(FILE_NAME);
        fsutil::write_atomic(&mpath, |w| {
            serde_json::to_writer_pretty(&mut *w, &manifest)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(|source| StoreError::Io {
            action: "cannot write",
            path: mpath.clone(),
            source,
        })?;
        for old in self.manifest.files.iter().chain(&self.manifest.tombstones) {
            let _ = std::fs::remove_file(self.root.join(&old.path));
        }
        Ok(Some(done))
    }

    /// Rewrites one file with recomputed hashes under `rel` (a partition file with its
    /// footer totals).
    fn rehash(
        &self,
        f: &FileEntry,
        rel: String,
        partition: bool,
        done: &mut Migration,
    ) -> Result<FileEntry, StoreError> {
        let src = self.root.join(&f.path);
        let bad = |source| StoreError::Parquet {
            path: src.clone(),
            source,
        };
        let mut df = read_parquet(&src, None)?;
        let hashes = frame::content_hashes(&df).map_err(bad)?;
        df.with_column(Int64Chunked::from_vec(col::CONTENT_HASH.into(), hashes).into_column())
            .map_err(bad)?;
        let dst = self.root.join(&rel);
        let dir = dst.parent().expect("a folder");
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "cannot create",
            path: dir.to_path_buf(),
            source,
        })?;
        let (bytes, sha256) = if partition {
            write_partition(&dst, &mut df)?
        } else {
            write_parquet(&dst, &mut df)?
        };
        fsutil::sync_dir(dir).map_err(|source| StoreError::Io {
            action: "cannot flush",
            path: dir.to_path_buf(),
            source,
        })?;
        done.files += 1;
        done.rows += df.height() as u64;
        Ok(FileEntry {
            path: rel,
            bytes,
            sha256,
            ..f.clone()
        })
    }

    /// Checks every close not yet sealed against the digest recorded at its close, and
    /// records its file's SHA-256. A frozen copy that does not match stops the migration.
    fn seal_closes(&self) -> Result<usize, StoreError> {
        let mut list = self.closed_periods()?;
        let mut sealed = 0;
        for c in list.iter_mut().filter(|c| c.file_sha256.is_none()) {
            let path = self.root.join(&c.file);
            let bytes = std::fs::read(&path).map_err(|source| StoreError::Io {
                action: "cannot read",
                path: path.clone(),
                source,
            })?;
            let df = read_parquet(&path, None)?;
            let keys = key_hashes(&df).map_err(|source| StoreError::Parquet {
                path: path.clone(),
                source,
            })?;
            if digest(&keys) != c.sha256 {
                return Err(StoreError::Closed {
                    path,
                    reason: format!(
                        "the frozen copy of closed period {} ({}) does not match the hash recorded at its close ({}); \
                         the store was not migrated. Restore the file from a backup",
                        c.period, c.timezone, c.sha256
                    ),
                });
            }
            c.file_sha256 = Some(sha256_hex(&bytes));
            sealed += 1;
        }
        if sealed > 0 {
            self.save_closed(&list)?;
        }
        Ok(sealed)
    }
}
