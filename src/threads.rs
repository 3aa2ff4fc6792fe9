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
    limit_malloc_arenas(n);
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

/// Caps glibc's malloc arenas at the thread count (its default is eight per core). Rows
/// parsed on one thread are freed on another (the staging thread, polars' pool); with
/// many arenas the freed memory stays scattered and a long import's resident memory grows
/// with its input (measured: 310 MB -> 243 MB importing 3.3M actions, the same time).
fn limit_malloc_arenas(n: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = libc::c_int::try_from(n.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets an allocator tunable; called at start-up like the rest
        // of `init`, before other threads allocate.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = n;
}

/// Hands memory the allocator holds free back to the system (glibc keeps freed pages of
/// its arenas): called between the stages of a long import, so that the next stage's
/// peak does not sit on top of the last one's leftovers.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}
