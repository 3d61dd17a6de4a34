//! Input files for the import tests.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes `bytes` to a file called `name` in a directory of its own under the system's temporary
/// directory. A directory per call: the SQLite and PostgreSQL variants of a test run at the same
/// time in one process and write files of the same name (with one directory per process, one
/// variant truncated the file the other was reading).
pub fn file(name: &str, bytes: &[u8]) -> PathBuf {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("patron-test-input-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}
