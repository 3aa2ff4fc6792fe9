//! Ctrl-C (SIGINT) and SIGTERM during `import` and `sync`: the first one asks the run to
//! stop at the next safe point (between windows, between input batches, in a wait),
//! before its commit; the run then says what it kept and how to resume, and exits 130
//! (SIGINT) or 143 (SIGTERM). A run whose commit finished exits 0 even if a signal came
//! after it. A second signal ends the process at once with the same code.
//!
//! Elsewhere (reports, `simulate`) signals keep their default meaning.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SIGNAL: OnceLock<std::sync::Arc<AtomicUsize>> = OnceLock::new();

/// Starts catching SIGINT and SIGTERM for this process.
#[cfg(unix)]
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let got = SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    let armed = Arc::new(AtomicBool::new(false));
    for (sig, code) in [(SIGINT, 130), (SIGTERM, 143)] {
        // The order matters: the second signal finds `armed` set by the first.
        flag::register_conditional_shutdown(sig, code, Arc::clone(&armed))?;
        flag::register_usize(sig, Arc::clone(got), sig as usize)?;
        flag::register(sig, Arc::clone(&armed))?;
    }
    Ok(())
}

/// Signals are not caught on this platform.
#[cfg(not(unix))]
pub fn install() -> std::io::Result<()> {
    Ok(())
}

/// The signal that asked the run to stop, if one did: its name and the exit code.
pub fn requested() -> Option<(&'static str, i32)> {
    let s = SIGNAL.get()?.load(Ordering::SeqCst);
    match s {
        0 => None,
        2 => Some(("SIGINT", 130)),
        15 => Some(("SIGTERM", 143)),
        other => Some(("a signal", 128 + other as i32)),
    }
}

/// Sleeps for `d`, waking early when a stop is requested; returns whether it slept the
/// whole time.
pub fn sleep(d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if requested().is_some() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}
