//! Where an import reads from: a file, a pipe (`<(…)`, a FIFO) or standard input (`-`). Every
//! input is read once, front to back, so all three behave alike; only a regular file has a size
//! known in advance (for the progress bar and the early "is empty" message).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::ImportError;

/// The name imports give standard input (`-`) in their messages: `stdin:LINE: column X: ...`.
pub const STDIN_NAME: &str = "stdin";

/// Whether `path` means standard input (`-`).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// An opened input.
pub(crate) struct Input {
    pub reader: Box<dyn Read + Send>,
    /// How messages name it.
    pub name: String,
    /// The size of a regular file; `None` for a pipe or standard input.
    pub size: Option<u64>,
}

/// Opens `path` (`-` for standard input) for one pass.
pub(crate) fn open(path: &Path) -> Result<Input, ImportError> {
    if is_stdin(path) {
        return Ok(Input {
            reader: Box::new(std::io::stdin()),
            name: STDIN_NAME.into(),
            size: None,
        });
    }
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| ImportError::File {
        file: name.clone(),
        message: format!("cannot open: {e}"),
    })?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok(Input {
        reader: Box::new(file),
        name,
        size,
    })
}
