//! The one error a table file can produce: which file, which line, which item, and why.
//!
//! Any error refuses the whole file; the snapshot in service stays. Callers decide from the
//! fields (the management API reports `file`/`line`), never from the message text.

use std::fmt;
use std::path::{Path, PathBuf};

/// A forwarding-table file was refused.
///
/// `line` is 1-based; 0 means the error concerns the whole file (it could not be read).
/// `field` names the item the line defines (`subscriber "alice@example.com"`), or is empty
/// when the line could not be understood at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    pub file: PathBuf,
    pub line: u32,
    pub field: String,
    pub reason: String,
}

impl TableError {
    pub fn new(
        file: &Path,
        line: u32,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        TableError {
            file: file.to_path_buf(),
            line,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The file could not be read (or written) at all.
    pub fn io(file: &Path, err: &std::io::Error) -> Self {
        TableError::new(file, 0, "", err.to_string())
    }
}

impl fmt::Display for TableError {
    /// `table:42: subscriber "alice@example.com": md5 must be 32 hex digits`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.reason)
        } else {
            write!(f, ": {}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for TableError {}
