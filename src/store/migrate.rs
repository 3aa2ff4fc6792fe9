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
use super::manifest::{Manifest, SCHEMA_VERSION, SUMMARIES};
use super::write::{write_parquet, write_partition};
use super::{FileEntry, Store, StoreError, read_parquet, sha256_hex};
use crate::frame::{self, col};
use crate::fsutil;
use crate::model::canon::HASH_SCHEME;
use crate::progress::Progress;
use polars::prelude::*;

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migration {
    /// Content hashes recomputed (a hash scheme migration); else only the footer
    /// summaries were added.
    pub rehashed: bool,
    /// Files rewritten.
    pub files: usize,
    /// Rows whose hash was recomputed.
    pub rows: u64,
    /// Date-times rewritten from nanoseconds into UTC microseconds (schema version 3).
    pub time_unit: bool,
    /// Closed periods checked and sealed with their file's SHA-256.
    pub closes_sealed: usize,
    /// Files given the checksum every read verifies (files unchanged; the manifest
    /// records it), after a check against their SHA-256.
    pub checksummed: usize,
}

impl Store {
    /// Whether the store's hashes are of the current scheme.
    pub fn hashes_current(&self) -> bool {
        self.manifest.hash_scheme == HASH_SCHEME
    }

    /// Migrates the store to the current hash scheme, if it is not on it. The caller
    /// holds the lock; afterwards it must open the store again.
    pub fn migrate_hashes(&self, progress: &Progress) -> Result<Option<Migration>, StoreError> {
        if self.hashes_current() {
            return Ok(None);
        }
        let mut done = Migration {
            rehashed: true,
            closes_sealed: self.seal_closes()?,
            ..Default::default()
        };
        self.rewrite_all(
            true,
            "recomputing content hashes (once)",
            &mut done,
            progress,
        )?;
        Ok(Some(done))
    }

    /// Brings the store to the current hash scheme and footer summaries, if it is not on
    /// them: a hash migration rewrites every file (with summaries); else files written
    /// before summaries existed are rewritten with them ([`Store::migrate_summaries`]).
    /// The caller holds the lock; afterwards it must open the store again.
    pub fn migrate(&self, progress: &Progress) -> Result<Option<Migration>, StoreError> {
        match self.migrate_hashes(progress)? {
            Some(m) => Ok(Some(m)),
            None => match self.migrate_time_unit(progress)? {
                Some(m) => Ok(Some(m)),
                None => match self.migrate_summaries(progress)? {
                    Some(m) => Ok(Some(m)),
                    None => self.migrate_checksums(progress),
                },
            },
        }
    }

    /// Rewrites, once, every file of a store of schema version 2 (date-times in
    /// nanoseconds, not marked UTC, which Spark refuses) with its date-times as UTC
    /// microseconds and the nanoseconds past them ([`super::timeunit`]): rows, hashes
    /// and closes unchanged.
    pub fn migrate_time_unit(&self, progress: &Progress) -> Result<Option<Migration>, StoreError> {
        if self.manifest.schema_version >= SCHEMA_VERSION {
            return Ok(None);
        }
        let mut done = Migration {
            time_unit: true,
            ..Default::default()
        };
        self.rewrite_all(
            false,
            "storing date-times as UTC microseconds, for Spark (once)",
            &mut done,
            progress,
        )?;
        Ok(Some(done))
    }

    /// Records, once, the XXH3-128 of every file written before the manifest recorded
    /// it (each first checked against its SHA-256), so that every read can verify the
    /// file cheaply. Files are not rewritten; the manifest is, generation unchanged.
    pub fn migrate_checksums(&self, progress: &Progress) -> Result<Option<Migration>, StoreError> {
        let missing = |f: &FileEntry| f.xxh3.is_none() || f.ranges.is_empty();
        let todo = self
            .manifest
            .files
            .iter()
            .chain(&self.manifest.tombstones)
            .filter(|f| missing(f))
            .count();
        if todo == 0 {
            return Ok(None);
        }
        let bar = progress.bar(todo as u64, "recording the store files' checksums (once)");
        let mut done = Migration::default();
        let mut sum = |f: &FileEntry| -> Result<FileEntry, StoreError> {
            if !missing(f) {
                return Ok(f.clone());
            }
            self.verify_file(f)?;
            let path = self.root.join(&f.path);
            let bytes = std::fs::read(&path).map_err(|source| StoreError::Io {
                action: "cannot read",
                path: path.clone(),
                source,
            })?;
            done.checksummed += 1;
            bar.inc(1);
            Ok(FileEntry {
                xxh3: Some(super::xxh3_hex(&bytes)),
                ranges: super::verify::ranges_of(&bytes, &path)?,
                bytes: bytes.len() as u64,
                sha256: if f.sha256.is_empty() {
                    sha256_hex(&bytes)
                } else {
                    f.sha256.clone()
                },
                ..f.clone()
            })
        };
        let files = self
            .manifest
            .files
            .iter()
            .map(&mut sum)
            .collect::<Result<_, _>>()?;
        let tombstones = self
            .manifest
            .tombstones
            .iter()
            .map(&mut sum)
            .collect::<Result<_, _>>()?;
        bar.finish();
        Manifest {
            files,
            tombstones,
            ..self.manifest.clone()
        }
        .write(&self.root)?;
        Ok(Some(done))
    }

    /// Rewrites, once, every partition file of a store written before partition files
    /// carried footer summaries ([`super::manifest::SUMMARIES`]), rows unchanged, so that
    /// reports of whole months read the summaries; then switches the manifest.
    pub fn migrate_summaries(&self, progress: &Progress) -> Result<Option<Migration>, StoreError> {
        if self.manifest.summaries >= SUMMARIES {
            return Ok(None);
        }
        let mut done = Migration::default();
        self.rewrite_all(
            false,
            "adding report summaries to the store's files (once)",
            &mut done,
            progress,
        )?;
        Ok(Some(done))
    }

    /// Rewrites every partition file (and, when `rehash`, every tombstones file, with
    /// recomputed hashes) under a new generation, each partition file with its footer
    /// summaries; then switches the manifest to them, on the current hash scheme and
    /// summaries, and removes the old files. `what` names the progress stage.
    fn rewrite_all(
        &self,
        rehash: bool,
        what: &str,
        done: &mut Migration,
        progress: &Progress,
    ) -> Result<(), StoreError> {
        let generation = self.manifest.generation + 1;
        let tag = if rehash { 'm' } else { 's' };
        // Files of an older schema version are all rewritten in the current one.
        let old_schema = self.manifest.schema_version < SCHEMA_VERSION;
        let old_tombstones: &[FileEntry] = if rehash || old_schema {
            &self.manifest.tombstones
        } else {
            &[]
        };
        let old_records: &[FileEntry] = if old_schema {
            &self.manifest.records
        } else {
            &[]
        };
        let bar = progress.bar(
            (self.manifest.files.len() + old_tombstones.len() + old_records.len()) as u64,
            what,
        );
        let mut files = Vec::new();
        for (k, f) in self.manifest.files.iter().enumerate() {
            let rel = format!(
                "actions/year={}/month={}/part-g{generation:06}-{tag}{k:04}.parquet",
                f.year, f.month
            );
            files.push(self.rewrite(f, rel, rehash, true, done)?);
            bar.inc(1);
        }
        // Tombstones not rewritten stay as they are.
        let mut tombstones = if old_tombstones.is_empty() {
            self.manifest.tombstones.clone()
        } else {
            Vec::new()
        };
        for (k, f) in old_tombstones.iter().enumerate() {
            let rel = format!("tombstones/part-g{generation:06}-{tag}{k:04}.parquet");
            tombstones.push(self.rewrite(f, rel, rehash, false, done)?);
            bar.inc(1);
        }
        // Records are rewritten only for the schema version (their hashes are not
        // content hashes).
        let mut records = if old_records.is_empty() {
            self.manifest.records.clone()
        } else {
            Vec::new()
        };
        for f in old_records {
            let table =
                crate::records::Table::of_path(&f.path).ok_or_else(|| StoreError::Manifest {
                    path: self.root.join(&f.path),
                    reason: "names a records file outside `records/<table>/`".into(),
                })?;
            let rel = format!("records/{}/part-g{generation:06}.parquet", table.name());
            records.push(self.rewrite(f, rel, false, false, done)?);
            bar.inc(1);
        }
        bar.finish();
        let manifest = Manifest {
            generation,
            committed_at: Some(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            files,
            tombstones,
            records,
            schema_version: SCHEMA_VERSION,
            hash_scheme: HASH_SCHEME.into(),
            summaries: SUMMARIES,
            retired: self.retiring(
                self.manifest
                    .files
                    .iter()
                    .chain(old_tombstones)
                    .chain(old_records),
            ),
            ..self.manifest.clone()
        };
        manifest.write(&self.root)?;
        self.remove_expired(&manifest.retired)?;
        Ok(())
    }

    /// Rewrites one file under `rel`: with recomputed hashes when `rehash`, as a
    /// partition file (with its footer summaries) when `partition`.
    fn rewrite(
        &self,
        f: &FileEntry,
        rel: String,
        rehash: bool,
        partition: bool,
        done: &mut Migration,
    ) -> Result<FileEntry, StoreError> {
        self.verify_file(f)?;
        let src = self.root.join(&f.path);
        let bad = |source| StoreError::Parquet {
            path: src.clone(),
            source,
        };
        let mut df = read_parquet(&src, None)?;
        if rehash {
            let hashes = frame::content_hashes(&df).map_err(bad)?;
            df.with_column(Int64Chunked::from_vec(col::CONTENT_HASH.into(), hashes).into_column())
                .map_err(bad)?;
        }
        let dst = self.root.join(&rel);
        let dir = dst.parent().expect("a folder");
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            action: "cannot create",
            path: dir.to_path_buf(),
            source,
        })?;
        let w = if partition {
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
            bytes: w.bytes,
            sha256: w.sha256,
            xxh3: Some(w.xxh3),
            ranges: w.ranges,
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
