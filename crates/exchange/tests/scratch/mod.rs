//! Input files for the import tests.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file in a temporary directory of its own, deleted with the directory when dropped (at the end
/// of the test). A directory per file: the SQLite and PostgreSQL variants of a test run at the
/// same time in one process and write files of the same name (with one shared directory, one
/// variant truncated the file the other was reading). Derefs to its path.
pub struct Scratch {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

/// Writes `bytes` to a file called `name` in a temporary directory of its own.
pub fn file(name: &str, bytes: &[u8]) -> Scratch {
    let dir = tempfile::Builder::new()
        .prefix("patron-test-input-")
        .tempdir()
        .unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    Scratch { path, _dir: dir }
}
