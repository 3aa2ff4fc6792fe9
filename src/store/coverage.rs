//! What time the store covers: the UTC ranges whose actions it holds in full, so that a
//! report can say which part of its range it can vouch for.
//!
//! Covered are: the windows `sync` committed (`STORE/sync/windows.json`), the date range
//! of each `import` (its actions' first to last `datetime`, widened to whole UTC days;
//! `STORE/coverage.json`), and closed periods (their frozen copies).

use super::{Store, StoreError};
use crate::model::datetime::parse_datetime;
use serde::{Deserialize, Serialize};

/// The file of imported ranges in the store folder.
pub const COVERAGE_FILE: &str = "coverage.json";

/// One import's range.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportedRange {
    /// Start (UTC nanoseconds, included).
    pub from_ns: i64,
    /// End (excluded).
    pub to_ns: i64,
    /// When it was imported (UTC).
    pub at: String,
}

const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Merges ranges into sorted, disjoint ones.
pub fn merge(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.retain(|r| r.0 < r.1);
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (f, t) in ranges {
        match out.last_mut() {
            Some(last) if f <= last.1 => last.1 = last.1.max(t),
            _ => out.push((f, t)),
        }
    }
    out
}

/// `covered` (sorted, disjoint) without the ranges `out`.
pub fn minus(covered: &[(i64, i64)], out: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let out = merge(out.to_vec());
    let mut result = Vec::new();
    for &(f, t) in covered {
        // What of [f, t) the ranges taken out leave: the gaps of [f, t) in `out`.
        result.extend(gaps(f, t, &out));
    }
    result
}

/// The parts of `[from, to)` that `covered` (sorted, disjoint) leaves out.
pub fn gaps(from: i64, to: i64, covered: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = from;
    for &(f, t) in covered {
        if t <= at || f >= to {
            continue;
        }
        if f > at {
            out.push((at, f.min(to)));
        }
        at = at.max(t);
        if at >= to {
            break;
        }
    }
    if at < to {
        out.push((at, to));
    }
    out
}

impl Store {
    /// Every range the store covers, merged.
    pub fn coverage(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut ranges = Vec::new();
        if let Ok(bytes) = std::fs::read(self.sync_state_path()) {
            let windows: std::collections::BTreeMap<String, String> =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Manifest {
                    path: self.sync_state_path(),
                    reason: format!("sync windows damaged: {e}"),
                })?;
            for key in windows.keys() {
                let parsed = key
                    .split_once("..")
                    .and_then(|(f, t)| Some((parse_datetime(f).ok()??, parse_datetime(t).ok()??)));
                if let Some(r) = parsed {
                    ranges.push(r);
                }
            }
        }
        ranges.extend(self.imported_ranges()?.iter().map(|r| (r.from_ns, r.to_ns)));
        ranges.extend(
            self.closed_periods()?
                .iter()
                .filter(|c| c.is_closed())
                .map(|c| (c.from_ns, c.to_ns)),
        );
        Ok(merge(ranges))
    }

    fn imported_ranges(&self) -> Result<Vec<ImportedRange>, StoreError> {
        let path = self.root.join(COVERAGE_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Manifest {
                path,
                reason: format!("imported ranges damaged: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StoreError::Io {
                action: "cannot read",
                path,
                source,
            }),
        }
    }

    /// Stops counting `months` as covered: the sync windows that reach into them are
    /// forgotten (the next sync fetches them again) and import ranges are cut around
    /// them. The caller holds the lock.
    pub fn withdraw_coverage(&self, months: &[super::Month]) -> Result<(), StoreError> {
        if months.is_empty() {
            return Ok(());
        }
        let out: Vec<(i64, i64)> = months.iter().map(|m| super::month_bounds(*m)).collect();
        let hit = |f: i64, t: i64| out.iter().any(|&(a, b)| f < b && a < t);
        let state = self.sync_state_path();
        if let Ok(bytes) = std::fs::read(&state) {
            let mut windows: std::collections::BTreeMap<String, String> =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Manifest {
                    path: state.clone(),
                    reason: format!("sync windows damaged: {e}"),
                })?;
            windows.retain(|key, _| {
                let parsed = key
                    .split_once("..")
                    .and_then(|(f, t)| Some((parse_datetime(f).ok()??, parse_datetime(t).ok()??)));
                !parsed.is_some_and(|(f, t)| hit(f, t))
            });
            crate::fsutil::write_atomic(&state, |w| {
                serde_json::to_writer_pretty(&mut *w, &windows)?;
                std::io::Write::write_all(w, b"\n")
            })
            .map_err(|source| StoreError::Io {
                action: "cannot write",
                path: state.clone(),
                source,
            })?;
        }
        let mut ranges = Vec::new();
        for r in self.imported_ranges()? {
            for (f, t) in minus(&[(r.from_ns, r.to_ns)], &out) {
                ranges.push(ImportedRange {
                    from_ns: f,
                    to_ns: t,
                    at: r.at.clone(),
                });
            }
        }
        let path = self.root.join(COVERAGE_FILE);
        if path.exists() {
            crate::fsutil::write_atomic(&path, |w| {
                serde_json::to_writer_pretty(&mut *w, &ranges)?;
                std::io::Write::write_all(w, b"\n")
            })
            .map_err(|source| StoreError::Io {
                action: "cannot write",
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// Records that an import brought the actions of `[first, last]` (datetimes), widened
    /// to whole UTC days. The caller holds the lock.
    pub fn record_import(&self, first: i64, last: i64) -> Result<(), StoreError> {
        let mut list = self.imported_ranges()?;
        list.push(ImportedRange {
            from_ns: first.div_euclid(DAY_NS) * DAY_NS,
            to_ns: (last.div_euclid(DAY_NS) + 1).saturating_mul(DAY_NS),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        let path = self.root.join(COVERAGE_FILE);
        crate::fsutil::write_atomic(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, &list)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(|source| StoreError::Io {
            action: "cannot write",
            path,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_what_coverage_leaves_out() {
        let c = merge(vec![(10, 20), (15, 30), (40, 50)]);
        assert_eq!(c, vec![(10, 30), (40, 50)]);
        assert_eq!(gaps(0, 60, &c), vec![(0, 10), (30, 40), (50, 60)]);
        assert_eq!(gaps(12, 28, &c), vec![]);
        assert_eq!(gaps(25, 45, &c), vec![(30, 40)]);
        assert_eq!(gaps(0, 5, &[]), vec![(0, 5)]);
    }
}
