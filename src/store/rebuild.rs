//! `status --rebuild-manifest`: the way back for a store whose manifest was removed or
//! damaged, or one of whose files was: the manifest is made again from the data files
//! that are sound, and nothing is deleted.
//!
//! - A file the old manifest names with a checksum is sound when it matches it; any
//!   other file when it reads whole, has the store's columns, and holds only rows of
//!   the month its folder names (`year=0/month=0`: rows without a date), unless a
//!   readable old manifest says it was written by a commit that never finished (a later
//!   generation than its own). Files the old manifest lists as retired (replaced, kept
//!   for outside readers for a grace period) stay retired.
//! - An action found in several sound files (a crashed commit's new files beside the
//!   old ones) keeps the copy of the newest generation; a file whose every row lost is
//!   set aside, one with some losers is written again without them.
//! - Files that are not sound, and files set aside, move to `STORE/recovered/` (their
//!   path kept), never deleted. The months they held stop counting as covered (their
//!   sync windows and import ranges are withdrawn), so reports say so and `--strict`
//!   refuses them until the month is synced or imported again.

use super::manifest::{self, Manifest};
use super::{FileEntry, Month, Store, StoreError, read_parquet};
use crate::frame::{self, col};
use polars::prelude::*;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// What a rebuild did.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// Files kept as they are.
    pub kept: usize,
    /// Files written again without rows a newer file holds.
    pub rewritten: usize,
    /// Files moved to `STORE/recovered/`, each with why.
    pub set_aside: Vec<(String, String)>,
    /// Months no longer counted as covered.
    pub uncovered: Vec<Month>,
    /// Actions in the rebuilt store.
    pub rows: u64,
}

/// One data file found on disk.
struct Found {
    rel: String,
    month: Month,
    generation: u64,
    tombstone: bool,
}

/// Every `.parquet` file under `actions/` and `tombstones/`, store-relative, in
/// generation order.
fn found_files(root: &Path) -> Vec<Found> {
    let mut out: Vec<Found> = super::data_folder_files(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            Found {
                tombstone: rel.starts_with("tombstones/"),
                month: p
                    .parent()
                    .and_then(super::month_of_folder)
                    .unwrap_or((0, 0)),
                generation: manifest::generation_of(name).unwrap_or(0),
                rel,
            }
        })
        .collect();
    out.sort_by(|a, b| (a.generation, &a.rel).cmp(&(b.generation, &b.rel)));
    out
}

/// The rows of the file at `path` (of `month`) when it is a sound store file, else why
/// it is not.
fn sound_rows(path: &Path, month: Month, tombstone: bool) -> Result<DataFrame, String> {
    let df = read_parquet(path, None).map_err(|e| format!("does not read: {e}"))?;
    frame::check_schema(&df).map_err(|r| format!("not the store's columns: {r}"))?;
    if !tombstone {
        let dt = df
            .column(col::DATETIME)
            .and_then(|c| c.datetime().map(|d| d.physical().clone()))
            .map_err(|e| format!("no datetime column: {e}"))?;
        if let Some(v) = dt.iter().find(|v| super::month_of(*v) != month) {
            let (y, m) = super::month_of(v);
            return Err(format!(
                "holds a row of {y}-{m:02}, not of the month its folder names"
            ));
        }
    }
    Ok(df)
}

impl Store {
    /// Makes the manifest of the store at `root` again from its sound data files (see
    /// the module's doc). The caller holds the lock.
    pub fn rebuild_manifest(
        root: &Path,
        progress: &crate::progress::Progress,
    ) -> Result<Rebuilt, StoreError> {
        // The old manifest, when there is one and it reads (a missing one is no state).
        let mpath = root.join(manifest::FILE_NAME);
        let old = mpath
            .exists()
            .then(|| Manifest::load(&mpath).ok())
            .flatten();
        let named: FxHashMap<String, FileEntry> = old
            .iter()
            .flat_map(|m| m.files.iter().chain(&m.tombstones))
            .map(|f| (f.path.clone(), f.clone()))
            .collect();
        let store = Store {
            root: root.to_path_buf(),
            manifest: old.clone().unwrap_or_default(),
        };
        let found = found_files(root);
        let bar = progress.bar(found.len() as u64, "checking the store's files");
        let mut done = Rebuilt::default();
        let mut sound: Vec<(Found, DataFrame)> = Vec::new();
        // Leftovers of an unfinished commit: set aside, but their months lost nothing.
        let mut leftovers: Vec<String> = Vec::new();
        // Files commits replaced and keep for a grace period are not the store's state:
        // left where they are, still retired.
        let retired: Vec<manifest::Retired> =
            old.iter().flat_map(|m| m.retired.iter().cloned()).collect();
        for f in found {
            if retired.iter().any(|r| r.path == f.rel) {
                bar.inc(1);
                continue;
            }
            let path = root.join(&f.rel);
            let checked = match (named.get(&f.rel), &old) {
                (Some(e), _) => store.verify_file(e).map_err(|e| e.to_string()),
                // Written by a commit that never switched the manifest: not the store's
                // state (the next writer would remove it), kept aside all the same.
                (None, Some(m)) if f.generation > m.generation => {
                    leftovers.push(f.rel.clone());
                    Err(format!(
                        "written by a commit that never finished (generation {}, the manifest's {})",
                        f.generation, m.generation
                    ))
                }
                (None, _) => Ok(()),
            };
            match checked.and_then(|()| sound_rows(&path, f.month, f.tombstone)) {
                Ok(df) => sound.push((f, df)),
                Err(r) => done.set_aside.push((f.rel.clone(), r)),
            }
            bar.inc(1);
        }
        bar.finish();
        // An action in several files: the copy of the newest generation stays (`sound`
        // is in generation order, so later entries win).
        let mut winner: FxHashMap<(i64, i64), usize> = FxHashMap::default();
        for (i, (f, df)) in sound.iter().enumerate() {
            if f.tombstone {
                continue;
            }
            let ids = keys(df, &root.join(&f.rel))?;
            for k in ids {
                winner.insert(k, i);
            }
        }
        let generation = sound
            .iter()
            .map(|(f, _)| f.generation)
            .chain(old.iter().map(|m| m.generation))
            .max()
            .unwrap_or(0)
            + 1;
        let mut files = Vec::new();
        let mut tombstones = Vec::new();
        for (i, (f, mut df)) in sound.into_iter().enumerate() {
            let path = root.join(&f.rel);
            if f.tombstone {
                tombstones.push(entry_of(&f.rel, (0, 0), &df, &path)?);
                done.kept += 1;
                continue;
            }
            let ids = keys(&df, &path)?;
            let keep: Vec<IdxSize> = ids
                .iter()
                .enumerate()
                .filter(|(_, k)| winner.get(k) == Some(&i))
                .map(|(r, _)| r as IdxSize)
                .collect();
            if keep.len() == ids.len() {
                files.push(entry_of(&f.rel, f.month, &df, &path)?);
                done.kept += 1;
                continue;
            }
            done.set_aside.push((
                f.rel.clone(),
                format!(
                    "{} of its {} action(s) are in a newer file",
                    ids.len() - keep.len(),
                    ids.len()
                ),
            ));
            if keep.is_empty() {
                continue;
            }
            let idx = IdxCa::from_vec("".into(), keep);
            df = df.take(&idx).map_err(|source| StoreError::Parquet {
                path: path.clone(),
                source,
            })?;
            let (y, m) = f.month;
            let rel = format!(
                "actions/year={y}/month={m}/part-g{generation:06}-r{:04}.parquet",
                done.rewritten
            );
            let w = super::write::write_partition(&root.join(&rel), &mut df)?;
            let mut e = entry_of(&rel, f.month, &df, &root.join(&rel))?;
            e.bytes = w.bytes;
            e.sha256 = w.sha256;
            e.xxh3 = Some(w.xxh3);
            e.ranges = w.ranges;
            files.push(e);
            done.rewritten += 1;
        }
        // Set aside, never deleted.
        for (rel, _) in &done.set_aside {
            let from = root.join(rel);
            let to = root.join("recovered").join(rel);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
            }
            std::fs::rename(&from, &to).map_err(io("cannot move aside", &from))?;
        }
        // The months that lost a file (or that the old manifest named a file of, now
        // gone) are covered no more.
        let mut lost: Vec<Month> = done
            .set_aside
            .iter()
            .filter(|(r, _)| r.starts_with("actions/") && !leftovers.contains(r))
            .filter_map(|(r, _)| Path::new(r).parent().and_then(super::month_of_folder))
            .chain(old.iter().flat_map(|m| {
                m.files
                    .iter()
                    .filter(|e| !files.iter().any(|f: &FileEntry| f.path == e.path))
                    .filter(|e| !root.join(&e.path).exists())
                    .map(FileEntry::month)
            }))
            .filter(|m| *m != (0, 0))
            .collect();
        lost.sort_unstable();
        lost.dedup();
        store.withdraw_coverage(&lost)?;
        done.uncovered = lost;
        files.sort_by(|a, b| (a.month(), &a.path).cmp(&(b.month(), &b.path)));
        done.rows = files.iter().map(|f| f.rows).sum();
        // Files kept from a store of schema version 2 make the rebuilt store one of
        // version 2, migrated below.
        let mut nanoseconds = false;
        for f in files.iter().chain(&tombstones) {
            let path = root.join(&f.path);
            nanoseconds |= super::timeunit::holds_nanoseconds(&path)
                .map_err(|source| StoreError::Parquet { path, source })?;
        }
        Manifest {
            schema_version: if nanoseconds {
                manifest::OLDEST_SCHEMA_VERSION
            } else {
                manifest::SCHEMA_VERSION
            },
            generation,
            committed_at: Some(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            files,
            tombstones,
            hash_scheme: old
                .as_ref()
                .map(|m| m.hash_scheme.clone())
                .unwrap_or_else(|| crate::model::canon::HASH_SCHEME.into()),
            summaries: old.as_ref().map_or(manifest::SUMMARIES, |m| m.summaries),
            retired,
            ..Manifest::default()
        }
        .write(root)?;
        if nanoseconds {
            // One schema version for every file: the files written above (version 3)
            // and those kept (version 2) become version 3 alike.
            Store::open(root)?.migrate_time_unit(progress)?;
        }
        Ok(done)
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The `(ticket_id, id)` of every row of `df`.
fn keys(df: &DataFrame, path: &Path) -> Result<Vec<(i64, i64)>, StoreError> {
    let bad = |source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let t = df
        .column(col::TICKET_ID)
        .and_then(|c| c.i64().cloned())
        .map_err(bad)?;
    let i = df
        .column(col::ID)
        .and_then(|c| c.i64().cloned())
        .map_err(bad)?;
    Ok(t.iter()
        .zip(i.iter())
        .map(|(t, i)| (t.unwrap_or_default(), i.unwrap_or_default()))
        .collect())
}

/// The manifest entry of the sound file `rel` holding `df`.
fn entry_of(
    rel: &str,
    month: Month,
    df: &DataFrame,
    path: &PathBuf,
) -> Result<FileEntry, StoreError> {
    let bytes = std::fs::read(path).map_err(io("cannot read", path))?;
    let t = df
        .column(col::TICKET_ID)
        .and_then(|c| c.i64().cloned())
        .map_err(|source| StoreError::Parquet {
            path: path.clone(),
            source,
        })?;
    Ok(FileEntry {
        path: rel.to_string(),
        year: month.0,
        month: month.1,
        rows: df.height() as u64,
        bytes: bytes.len() as u64,
        sha256: super::sha256_hex(&bytes),
        tickets: t.min().zip(t.max()),
        xxh3: Some(super::xxh3_hex(&bytes)),
        ranges: super::verify::ranges_of(&bytes, path)?,
    })
}
