//! Writing files so that a reader (or a crash) never sees half of one.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// A temporary name beside `path`, unique to this process.
pub fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
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

/// Writes `path` whole or not at all: the content goes to a temporary file beside it,
/// which is flushed to disk and then renamed over `path`. On error the temporary file
/// is removed and `path` is untouched.
pub fn write_atomic<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let tmp = temp_beside(path);
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 16, File::create(&tmp)?);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
