//! How many threads the work uses: sized from the machine, overridable with `--threads N`
//! or `HALO_BILLING_THREADS`. No count is fixed in code: the rayon pool (parsing,
//! aggregation), the report reader threads (files decoded side by side) and polars' own
//! pool (Parquet decoding; `POLARS_MAX_THREADS` if you set it yourself) all follow it.

use std::sync::OnceLock;

static THREADS: OnceLock<usize> = OnceLock::new();

/// The environment variable that sets the thread count.
pub const ENV: &str = "HALO_BILLING_THREADS";

fn machine() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The count for this process: `flag`, else `$HALO_BILLING_THREADS`, else the machine's
/// cores. Call once at start, before any other thread exists (it sets the rayon and
/// polars pools, which read it when first used).
pub fn init(flag: Option<usize>) -> Result<usize, String> {
    let n = match flag {
        Some(n) => n,
        None => match std::env::var(ENV) {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse()
                .map_err(|_| format!("{ENV}=`{v}` is not a whole number of threads (1 or more)"))?,
            _ => machine(),
        },
    };
    if n == 0 {
        return Err("the thread count must be 1 or more".into());
    }
    let n = *THREADS.get_or_init(|| n);
    if std::env::var_os("POLARS_MAX_THREADS").is_none() {
        // SAFETY: called from `cli::main` before any thread is started (no other thread
        // can read the environment meanwhile); polars reads the variable when its pool
        // is first built, later.
        unsafe { std::env::set_var("POLARS_MAX_THREADS", n.to_string()) };
    }
    // Fails only if the global pool was built already (a second init in tests): the
    // first size stays.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    Ok(n)
}

/// The thread count (the machine's cores when [`init`] was not called).
pub fn count() -> usize {
    *THREADS.get_or_init(machine)
}

/// How many reader threads decode `files` files side by side.
pub fn readers(files: usize) -> usize {
    count().min(files).max(1)
}
