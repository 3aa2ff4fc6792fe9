//! Writing files so that a reader (or a crash) never sees half of one.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A new temporary file beside `path`, created exclusively (it cannot be a symlink or
/// an existing file someone planted) under an unpredictable name starting
/// `.NAME.tmp-`, removed when dropped unless persisted.
pub fn temp_file_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempfile_in(dir)
}

/// Whether `path` names something that is not a regular file or a folder: a device, a
/// FIFO, a socket (`/dev/null`, `/dev/stdout`). Such an output is written to, never
/// replaced by a file.
pub fn is_special(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Where `path` would be written: its folder resolved (symlinks, `..`) as far as it
/// exists, then the rest as given; used to compare an output with the store or the
/// inputs before anything is written.
pub fn resolved(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    if let Ok(p) = fs::canonicalize(&abs) {
        return p;
    }
    let mut rest = Vec::new();
    let mut at = abs.as_path();
    while let Some(parent) = at.parent() {
        if let Some(name) = at.file_name() {
            rest.push(name.to_os_string());
        }
        if let Ok(p) = fs::canonicalize(parent) {
            let mut out = p;
            for n in rest.iter().rev() {
                out.push(n);
            }
            return out;
        }
        at = parent;
    }
    abs
}

/// Flushes a directory's entries to disk (after a rename into it).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Writes `path` whole or not at all: the content goes to a new temporary file beside
/// it ([`temp_file_beside`]), which is flushed to disk and then renamed over `path`. On
/// error the temporary file is removed and `path` is untouched. An output that is not a
/// regular file ([`is_special`]: `/dev/null`, `/dev/stdout`, a FIFO) is written
/// directly instead.
pub fn write_atomic<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    write_atomic_as(path, false, write)
}

/// [`write_atomic`], the file readable by its owner alone (mode 0600): for what quotes
/// other programs' output (a job's run manifest).
pub fn write_private<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    write_atomic_as(path, true, write)
}

/// The process's umask (Linux: `/proc/self/status`; elsewhere the common 022).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Gives `f` (a temporary file, made 0600) the mode `File::create` would have given it:
/// 0666 less the umask.
pub fn default_mode(f: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o666 & !umask()))
    }
    #[cfg(not(unix))]
    {
        let _ = f;
        Ok(())
    }
}

fn write_atomic_as<F>(path: &Path, private: bool, write: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    if is_special(path) {
        let mut w = BufWriter::new(fs::OpenOptions::new().write(true).open(path)?);
        write(&mut w)?;
        return w.flush();
    }
    let tmp = temp_file_beside(path)?;
    // A temporary file is made 0600; the file it becomes gets what `File::create` would
    // give (0666 less the umask), unless it is private.
    if !private {
        default_mode(tmp.as_file())?;
    }
    let mut w = BufWriter::with_capacity(1 << 16, tmp.as_file().try_clone()?);
    write(&mut w)?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    })
}

/// A platform folder: `$VAR` when set and not empty, else `$HOME/<home_relative>`
/// (the XDG convention: `XDG_DATA_HOME` / `.local/share`, `XDG_CONFIG_HOME` / `.config`).
pub fn xdg_dir(var: &str, home_relative: &str) -> Option<PathBuf> {
    let set = |v: &str| {
        std::env::var_os(v)
            .filter(|x| !x.is_empty())
            .map(PathBuf::from)
    };
    set(var).or_else(|| set("HOME").map(|h| h.join(home_relative)))
}
