//! Where a table's text comes from: one file, or a folder of `*.table` files.
//!
//! A folder lets an operator split a big table (one file per customer, gateways apart);
//! its files are read in byte order of their names and compiled as one table, so a
//! subscriber in `20-acme.table` may use a domain declared in `00-domains.table`. Hidden
//! files (editor swap files, Ringlet's own temporary files) and other extensions are
//! ignored. Errors name the file they are in.
//!
//! The identity of a source (each file's device, inode, size and mtime, plus the folder's
//! own) is what the watcher compares: a save-by-rename changes the inode, adding or
//! removing a file changes the list.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::error::TableError;

/// The extension of table files inside a table folder.
pub const TABLE_EXTENSION: &str = "table";

/// One version of one file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_s: i64,
    mtime_ns: i64,
}

fn file_identity(path: &Path) -> Option<FileIdentity> {
    let m = std::fs::metadata(path).ok()?;
    Some(FileIdentity {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_s: m.mtime(),
        mtime_ns: m.mtime_nsec(),
    })
}

/// One version of a whole source (a file, or a folder and its table files).
pub(crate) type SourceIdentity = Vec<(PathBuf, FileIdentity)>;

/// The identity of `path` now; `None` if it (or the folder listing) cannot be read.
pub(crate) fn identity(path: &Path) -> Option<SourceIdentity> {
    let own = file_identity(path)?;
    let mut out = vec![(path.to_path_buf(), own)];
    if path.is_dir() {
        for f in table_files(path).ok()? {
            let id = file_identity(&f)?;
            out.push((f, id));
        }
    }
    Some(out)
}

/// The table files of a folder, sorted by name.
fn table_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        let wanted = !name.starts_with('.')
            && path.extension().is_some_and(|e| e == TABLE_EXTENSION)
            && entry
                .file_type()
                .is_ok_and(|t| t.is_file() || t.is_symlink())
            && path.is_file();
        if wanted {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The text of a table: its path (file or folder) and every file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSource {
    pub root: PathBuf,
    pub files: Vec<(PathBuf, String)>,
}

impl TableSource {
    /// Read a table file, or every `*.table` file of a table folder.
    pub fn read(path: &Path) -> Result<TableSource, TableError> {
        let meta = std::fs::metadata(path).map_err(|e| TableError::io(path, &e))?;
        let paths = if meta.is_dir() {
            let files = table_files(path).map_err(|e| TableError::io(path, &e))?;
            if files.is_empty() {
                return Err(TableError::new(
                    path,
                    0,
                    "",
                    format!("the folder holds no *.{TABLE_EXTENSION} files"),
                ));
            }
            files
        } else {
            vec![path.to_path_buf()]
        };
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            let text = read_utf8(&p)?;
            files.push((p, text));
        }
        Ok(TableSource {
            root: path.to_path_buf(),
            files,
        })
    }

    /// Compile all files as one table; every error on failure.
    pub fn compile(&self) -> Result<super::ForwardingSnapshot, Vec<TableError>> {
        let files: Vec<(PathBuf, &str)> = self
            .files
            .iter()
            .map(|(p, t)| (p.clone(), t.as_str()))
            .collect();
        super::compile::compile_files(&self.root, &files)
    }
}

/// Read a file as UTF-8, mapping failures to a [`TableError`] on the file (with the line
/// of the first invalid byte).
pub(crate) fn read_utf8(path: &Path) -> Result<String, TableError> {
    let bytes = std::fs::read(path).map_err(|e| TableError::io(path, &e))?;
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
        TableError::new(
            path,
            u32::try_from(line).unwrap_or(u32::MAX),
            "",
            "not valid UTF-8",
        )
    })
}
