//! Progress for long work: a bar on a terminal, plain start/finish lines otherwise (for
//! cron logs), nothing with `--quiet`. Always on standard error.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// How progress is shown for this run.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    quiet: bool,
    tty: bool,
}

/// One stage's progress.
pub struct Bar {
    bar: ProgressBar,
    what: String,
    plain: bool,
    started: Instant,
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
            started: Instant::now(),
        }
    }

    /// A line of information (unless quiet).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("halo-billing: {msg}");
        }
    }
}

impl Bar {
    /// Advances by `n` steps.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Shows the stage's running figures beside its name (terminal only).
    pub fn set_detail(&self, detail: &str) {
        self.bar.set_message(format!("{} · {detail}", self.what));
    }

    /// Ends the stage.
    pub fn finish(self) {
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
}
