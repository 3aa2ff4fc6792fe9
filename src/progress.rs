//! Progress for long work: a bar on a terminal, plain lines otherwise (for cron logs and
//! `jobs run`: the start, a line at most every 30 seconds while it runs, the end),
//! nothing with `--quiet`. Always on standard error.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// How often a plain (log) progress line is written while a stage runs, milliseconds.
const PLAIN_EVERY_MS: u64 = 30_000;

/// How progress is shown for this run.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    quiet: bool,
    tty: bool,
}

/// One stage's progress. It says "done" only through [`Bar::finish`]; a stage that
/// ends any other way (an error returned past it) says "failed" when dropped.
pub struct Bar {
    bar: ProgressBar,
    what: String,
    plain: bool,
    quiet: bool,
    started: Instant,
    ended: bool,
    /// When the last plain line was written (ms since `started`).
    last_line_ms: AtomicU64,
    /// The running figures (`set_detail`), for plain lines.
    detail: Mutex<String>,
}

impl Progress {
    /// `quiet` silences everything; otherwise a terminal gets bars.
    pub fn new(quiet: bool) -> Self {
        Progress {
            quiet,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// Shows nothing (for library callers and tests).
    pub fn silent() -> Self {
        Progress {
            quiet: true,
            tty: false,
        }
    }

    /// Starts a stage of `len` steps.
    pub fn bar(&self, len: u64, what: &str) -> Bar {
        let plain = !self.quiet && !self.tty;
        let bar = if self.quiet || !self.tty {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
        } else {
            let b = ProgressBar::new(len);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg:>28} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_message(what.to_string());
            b
        };
        if plain {
            eprintln!("halo-billing: {what}: started ({len} to do)");
        }
        Bar {
            bar,
            what: what.to_string(),
            plain,
            quiet: self.quiet,
            started: Instant::now(),
            ended: false,
            last_line_ms: AtomicU64::new(0),
            detail: Mutex::new(String::new()),
        }
    }

    /// Whether `--quiet` was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// A line of information (unless quiet).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("halo-billing: {msg}");
        }
    }
}

impl Bar {
    /// Advances by `n` steps; in a log, a line at most every 30 seconds says how far.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if !self.plain {
            return;
        }
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_line_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PLAIN_EVERY_MS
            && self
                .last_line_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let detail = self.detail.lock().map(|d| d.clone()).unwrap_or_default();
            eprintln!(
                "halo-billing: {}: {} of {} after {:.0?}{}",
                self.what,
                self.bar.position(),
                self.bar.length().unwrap_or(0),
                self.started.elapsed(),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            );
        }
    }

    /// Shows the stage's running figures beside its name (terminal), or in the next
    /// plain line (logs).
    pub fn set_detail(&self, detail: &str) {
        self.bar.set_message(format!("{} · {detail}", self.what));
        if self.plain
            && let Ok(mut d) = self.detail.lock()
        {
            *d = detail.to_string();
        }
    }

    /// Ends the stage as done.
    pub fn finish(mut self) {
        self.ended = true;
        self.bar.finish_and_clear();
        if self.plain {
            eprintln!(
                "halo-billing: {}: done ({} in {:.1?})",
                self.what,
                self.bar.position(),
                self.started.elapsed()
            );
        }
    }

    /// Ends the stage as failed, with the reason.
    pub fn fail(mut self, reason: &str) {
        self.ended = true;
        self.report_failure(Some(reason));
    }

    fn report_failure(&self, reason: Option<&str>) {
        self.bar.abandon();
        if !self.quiet {
            eprintln!(
                "halo-billing: {}: failed after {} of {} in {:.1?}{}",
                self.what,
                self.bar.position(),
                self.bar.length().unwrap_or(0),
                self.started.elapsed(),
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            );
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if !self.ended {
            self.report_failure(None);
        }
    }
}
