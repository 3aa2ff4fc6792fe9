//! What of a period the store covers (committed sync windows, imports' date ranges,
//! closes), said in a line with the commands that fill the gaps, and put in a sheet's
//! scope.

use super::error::ReportError;
use super::sheet::Sheet;
use crate::model::datetime::format_datetime as utc;
use crate::store::Store;

/// The parts of `[from_ns, to_ns)` the store does not cover. Time after now is not a gap
/// (a range that runs into the future, the current month say, is covered up to now). A
/// range with no start (`from_ns` = `i64::MIN`, `--to` alone) always has a gap
/// `(i64::MIN, first covered instant)`: earlier work may exist that the store never saw.
pub fn gaps(store: &Store, from_ns: i64, to_ns: i64) -> Result<Vec<(i64, i64)>, ReportError> {
    let mut covered = store.coverage()?;
    // A month whose folder holds a data file the manifest does not name is not vouched
    // for: its figures may lack that file's rows.
    let strays = store.stray_files();
    if !strays.is_empty() {
        let mut bad: Vec<(i64, i64)> = Vec::new();
        for p in &strays {
            let month = p
                .parent()
                .and_then(crate::store::month_of_folder)
                .map(crate::store::month_bounds);
            if let Some((f, t)) = month.filter(|(f, t)| f < t && *f < to_ns && from_ns < *t) {
                eprintln!(
                    "halo-billing: warning: `{}` is a data file the manifest does not name (a removed entry?): its month counts as not covered; `halo-billing status --verify` lists every such file",
                    p.display()
                );
                bad.push((f, t));
            }
        }
        covered = crate::store::coverage_minus(&covered, &bad);
    }
    // Now, to the second (a gap that ends now reads as a time, not a nanosecond count).
    let now = chrono::Utc::now().timestamp().saturating_mul(1_000_000_000);
    let to = to_ns.min(now.max(from_ns));
    if from_ns == i64::MIN {
        let Some(&(first, _)) = covered.first() else {
            return Ok(vec![(i64::MIN, to)]);
        };
        let mut gaps = vec![(i64::MIN, first.min(to))];
        gaps.extend(crate::store::coverage_gaps(first, to, &covered));
        return Ok(gaps);
    }
    Ok(crate::store::coverage_gaps(from_ns, to, &covered))
}

/// The coverage line for the `gaps` of a period ([`gaps`]). A gap from `i64::MIN` is a
/// range with no start: what the store covers is said, and that earlier work may exist.
pub fn text(gaps: &[(i64, i64)]) -> String {
    if gaps.is_empty() {
        return "coverage: the store covers the whole period (synced windows, imports, closes)"
            .into();
    }
    let day = |ns: i64| utc(ns).chars().take(10).collect::<String>();
    let day_ns: i64 = 86_400 * 1_000_000_000;
    let mut parts = Vec::new();
    let mut fills = Vec::new();
    for &(f, t) in gaps {
        if f == i64::MIN {
            parts.push(format!("anything before {}", utc(t)));
            continue;
        }
        let end = (t - 1).div_euclid(day_ns) * day_ns + day_ns;
        fills.push(format!(
            "halo-billing sync --from {} --to {}",
            day(f),
            day(end)
        ));
        parts.push(format!("{} .. {}", utc(f), utc(t)));
    }
    let mut line = format!(
        "coverage: WARNING: the store does not cover {} of this period (no synced window, import or close there), so actions there are missing from these figures",
        parts.join(", ")
    );
    if let Some(&(_, first)) = gaps.first().filter(|g| g.0 == i64::MIN) {
        line.push_str(&format!(
            "; the range has no start and the store covers from {} on, so earlier work may exist: give --from, or sync (or import) the tenant's history from its first day",
            utc(first)
        ));
    }
    if !fills.is_empty() {
        line.push_str(&format!(
            "; fill with: {} (or import the saved responses for it)",
            fills.join("; ")
        ));
    }
    line
}

/// Puts what the store covers of the time `sheet`'s figures depend on into its scope:
/// its period, and from `since` on when given (prepay balances count every draw since
/// each block's purchase); and the undated actions (a closed period asked for as
/// itself: those at its close).
pub fn fill(store: &Store, sheet: &mut Sheet, since: Option<i64>) -> Result<(), ReportError> {
    let period = &sheet.scope.period;
    let from = since.map_or(period.from_ns, |f| f.min(period.from_ns));
    let gaps = gaps(store, from, period.to_ns)?;
    let mut line = text(&gaps);
    if from < period.from_ns {
        line.push_str(&format!(
            " (prepaid blocks' balances count every draw since the block was bought, so these figures depend on the store's history from {}, the first purchase of a block)",
            utc(from)
        ));
    }
    // A closed period asked for as itself shows the undated actions frozen with it.
    sheet.scope.undated = match sheet.scope.closes.as_slice() {
        [c] if (c.from_ns, c.to_ns) == (period.from_ns, period.to_ns) => c.undated_at_close,
        _ => store.undated_rows(),
    };
    sheet.scope.gaps = gaps;
    sheet.scope.coverage = line;
    Ok(())
}
