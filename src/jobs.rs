//! Unattended month-end jobs: a `jobs.toml` of named jobs, each an optional sync followed
//! by reports and exports for a period expression, written into an output folder, with a
//! run manifest under the store.
//!
//! Each step runs this same binary as a child process with the arguments a person would
//! type (`report NAME --period P --out F --strict`, `export FORMAT ...`), so a job does
//! exactly what the commands do: atomic files, the same checks, the same exit codes.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A jobs file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsFile {
    /// The jobs, in order.
    #[serde(rename = "job", default)]
    pub jobs: Vec<Job>,
}

/// One job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Its name (unique; letters, digits, `-`, `_`).
    pub name: String,
    /// `previous-month`, `current-month` or `YYYY-MM`.
    pub period: String,
    /// IANA time zone (default: the store's reporting zone, else UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Sync the period from Halo first.
    #[serde(default)]
    pub sync: bool,
    /// The sync's config file (relative to the jobs file); default: sync's own default.
    #[serde(default)]
    pub config: Option<String>,
    /// The sync's options (as `sync` takes them).
    #[serde(default)]
    pub sync_options: SyncSettings,
    /// Reports to write (any `report` name, built in or defined by files; `pack`: the
    /// month-end pack as one HTML page).
    #[serde(default)]
    pub reports: Vec<String>,
    /// Exports to write: `xero`, `quickbooks`, `datev`, `csv`.
    #[serde(default)]
    pub exports: Vec<String>,
    /// The export mapping (relative to the jobs file).
    #[serde(default)]
    pub mapping: Option<String>,
    /// Prepaid block purchases for `prepay` and `pack` (relative to the jobs file).
    #[serde(default)]
    pub balances: Option<String>,
    /// Exported work that changed since: `correct` (default) or `refuse` (export --changed).
    #[serde(default)]
    pub changed: Option<String>,
    /// Output folder template: `{period}` and `{name}` are filled in (relative to the
    /// jobs file). Default `out/{period}/{name}`.
    #[serde(default)]
    pub out: Option<String>,
    /// Allow `out` outside the jobs file's folder (an absolute path, or one with `..`).
    #[serde(default)]
    pub out_anywhere: bool,
    /// Reports exit 5 when the store does not cover the period (default true: a
    /// scheduled job must not send incomplete figures without saying so).
    #[serde(default = "yes")]
    pub strict: bool,
}

fn yes() -> bool {
    true
}

/// A job's sync options: the `sync` flags of the same names (`rate_limit` is
/// `--rate-limit`); absent ones keep sync's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// `--window` (1d, 6h, ...).
    pub window: Option<String>,
    /// `--workers`.
    pub workers: Option<u64>,
    /// `--rate-limit` (requests per rate window).
    pub rate_limit: Option<u64>,
    /// `--rate-window` (5m).
    pub rate_window: Option<String>,
    /// `--max-retries`.
    pub max_retries: Option<u64>,
    /// `--timeout` (60s).
    pub timeout: Option<String>,
    /// `--skip-synced-within` (6h).
    pub skip_synced_within: Option<String>,
    /// `--max-deletions`.
    pub max_deletions: Option<u64>,
    /// `--max-deletion-share` (5%).
    pub max_deletion_share: Option<String>,
    /// `--accept-deletions`.
    pub accept_deletions: Option<bool>,
}

impl SyncSettings {
    /// Whether any option is set.
    pub fn is_empty(&self) -> bool {
        self.args().is_empty()
    }

    /// The `sync` arguments these settings give.
    pub fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        let mut put = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                a.push(flag.to_string());
                a.push(v);
            }
        };
        put("--window", self.window.clone());
        put("--workers", self.workers.map(|v| v.to_string()));
        put("--rate-limit", self.rate_limit.map(|v| v.to_string()));
        put("--rate-window", self.rate_window.clone());
        put("--max-retries", self.max_retries.map(|v| v.to_string()));
        put("--timeout", self.timeout.clone());
        put("--skip-synced-within", self.skip_synced_within.clone());
        put("--max-deletions", self.max_deletions.map(|v| v.to_string()));
        put("--max-deletion-share", self.max_deletion_share.clone());
        if self.accept_deletions == Some(true) {
            a.push("--accept-deletions".into());
        }
        a
    }
}

/// The jobs file used when none is named: `$XDG_CONFIG_HOME/halo-billing/jobs.toml`.
pub fn default_file() -> Option<PathBuf> {
    crate::fsutil::xdg_dir("XDG_CONFIG_HOME", ".config")
        .map(|b| b.join("halo-billing").join("jobs.toml"))
}

/// Reads a jobs file and checks what needs no other file: an error when it cannot be
/// read or parsed (naming the file and the fault), else the jobs and their problems.
pub fn read(path: &Path) -> Result<(JobsFile, Vec<String>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the jobs file `{}`: {e}", path.display()))?;
    let f: JobsFile = toml::from_str(&text)
        .map_err(|e| format!("the jobs file `{}` does not parse: {e}", path.display()))?;
    let mut problems = Vec::new();
    let mut names = std::collections::HashSet::new();
    for j in &f.jobs {
        if j.name.is_empty()
            || !j
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(format!(
                "job `{}`: a name may hold only letters, digits, - and _",
                j.name
            ));
        }
        if !names.insert(j.name.clone()) {
            problems.push(format!("job `{}` is defined twice", j.name));
        }
        if let Err(e) = resolve_period(&j.period, chrono::NaiveDate::MIN) {
            problems.push(format!("job `{}`: {e}", j.name));
        }
        for e in &j.exports {
            if !["xero", "quickbooks", "datev", "csv"].contains(&e.as_str()) {
                problems.push(format!(
                    "job `{}`: export `{e}` is not one of xero, quickbooks, datev, csv",
                    j.name
                ));
            }
        }
        if !j.exports.is_empty() && j.mapping.is_none() {
            problems.push(format!(
                "job `{}`: exports need a mapping (mapping = \"mapping.toml\")",
                j.name
            ));
        }
        if j.reports.is_empty() && j.exports.is_empty() && !j.sync {
            problems.push(format!("job `{}` has nothing to do", j.name));
        }
    }
    Ok((f, problems))
}

/// The month (`YYYY-MM`) a period expression means on `today`.
pub fn resolve_period(expr: &str, today: chrono::NaiveDate) -> Result<String, String> {
    use chrono::Datelike;
    let month = |y: i32, m: u32| format!("{y:04}-{m:02}");
    match expr {
        "current-month" => Ok(month(today.year(), today.month())),
        "previous-month" => Ok(if today.month() == 1 {
            month(today.year() - 1, 12)
        } else {
            month(today.year(), today.month() - 1)
        }),
        m if m.len() == 7
            && chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_ok() =>
        {
            Ok(m.to_string())
        }
        other => Err(format!(
            "period `{other}` is not previous-month, current-month or YYYY-MM"
        )),
    }
}

/// Fills `{period}` and `{name}`.
pub fn fill_out(template: &str, period: &str, name: &str) -> String {
    template.replace("{period}", period).replace("{name}", name)
}

/// A file's SHA-256, hex.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    Ok(crate::store::sha256_hex(&std::fs::read(path)?))
}

/// What one step did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepRecord {
    /// `sync`, `report NAME` or `export FORMAT`.
    pub step: String,
    /// When it started (UTC, RFC 3339).
    pub started_at: String,
    /// Seconds it took.
    pub duration_seconds: f64,
    /// The child's exit code (143/130 when the run was stopped by a signal).
    pub exit_code: i32,
    /// Lines it printed that were warnings.
    pub warnings: u64,
    /// Its last lines.
    pub messages: Vec<String>,
}

/// An output file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputRecord {
    /// Path (as written, relative to the jobs file's folder when it was given so).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// An input file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputRecord {
    /// Path.
    pub path: String,
    /// SHA-256, hex (empty when it could not be read).
    pub sha256: String,
}

/// The run manifest of one job run, written under the store (`runs/`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunManifest {
    /// The job.
    pub job: String,
    /// The period (`YYYY-MM`).
    pub period: String,
    /// The date the period expression was evaluated on.
    pub as_of: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// Seconds it took.
    pub duration_seconds: f64,
    /// The store's generation after the run's sync (what the outputs were made from).
    pub store_generation: u64,
    /// Files read: the jobs file and the mapping.
    pub inputs: Vec<InputRecord>,
    /// Every output written.
    pub outputs: Vec<OutputRecord>,
    /// Each step.
    pub steps: Vec<StepRecord>,
    /// Warnings the steps printed, in all.
    pub warnings: u64,
    /// `ok`; `attention` (an export left work out, exit 6); `failed`; `interrupted`
    /// (SIGTERM or Ctrl-C: the steps not run are not listed).
    pub outcome: String,
    /// 0 when ok, 6 for attention, else the failing steps' exit code (1 when they
    /// differ), or 143/130 when interrupted.
    pub exit_code: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_expressions_resolve_against_the_as_of_date() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            resolve_period("previous-month", d("2026-11-05")).unwrap(),
            "2026-10"
        );
        assert_eq!(
            resolve_period("previous-month", d("2027-01-01")).unwrap(),
            "2026-12"
        );
        assert_eq!(
            resolve_period("current-month", d("2026-11-30")).unwrap(),
            "2026-11"
        );
        assert_eq!(
            resolve_period("2026-07", d("2026-11-30")).unwrap(),
            "2026-07"
        );
        assert!(resolve_period("last-month", d("2026-11-30")).is_err());
        assert!(resolve_period("2026-13", d("2026-11-30")).is_err());
    }
}
