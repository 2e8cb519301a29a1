//! The one error type of the configuration: which file, which line, which key, what is allowed.
//!
//! Errors from `toml`/`serde` carry a byte span; errors from [`super::Config::validate`]
//! carry a dotted key. Both are turned into a line number and a dotted key here, so the
//! operator always reads `FILE:LINE: key `sip.t2_ms`: what is wrong; what is allowed`.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the text came from one.
    pub file: Option<PathBuf>,
    /// 1-based line of the offending key (or of the syntax error).
    pub line: Option<usize>,
    /// Dotted key, e.g. `sip.t1_ms`, when one is to blame.
    pub key: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn io(path: &Path, e: &std::io::Error) -> ConfigError {
        ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            key: None,
            message: format!("cannot read the file: {e}"),
        }
    }

    /// An impossible value for `key` (line found later by [`ConfigError::locate`]).
    pub(crate) fn value(key: &str, message: String) -> ConfigError {
        ConfigError {
            file: None,
            line: None,
            key: Some(key.to_string()),
            message,
        }
    }

    pub(crate) fn in_file(mut self, path: &Path) -> ConfigError {
        self.file = Some(path.to_path_buf());
        self
    }

    /// Find the line where this error's key is written in `text` (none when the value is a
    /// default, i.e. the key is absent).
    pub(crate) fn locate(mut self, text: &str) -> ConfigError {
        if self.line.is_none() {
            if let Some(key) = &self.key {
                self.line = find_key_line(text, key);
            }
        }
        self
    }

    /// Map a `toml` error's byte span to a line and the key written on that line.
    pub(crate) fn from_toml(text: &str, e: &toml::de::Error) -> ConfigError {
        let line = e.span().map(|span| line_of_offset(text, span.start));
        let mut message = e.message().trim().to_string();
        let key = line.and_then(|l| key_on_line(text, l)).map(|(table, key)| {
            let dotted = if table.is_empty() {
                key.clone()
            } else {
                format!("{table}.{key}")
            };
            // serde's "unknown field `x`" names only the leaf; for a missing section
            // it says "unknown field" too, which the dotted key makes clear.
            if message.starts_with("unknown field") && !table.is_empty() {
                message = format!("{message} (in [{table}])");
            }
            dotted
        });
        ConfigError {
            file: None,
            line,
            key,
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

fn line_of_offset(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The table header in force at `line` and the (possibly dotted) key written on it.
/// Understands the forms the example file uses: `[table]` headers and `key = value` /
/// `a.b = value` lines. A line without `=` (inside a multi-line array) yields the key of the
/// closest line above it that has one.
fn key_on_line(text: &str, line: usize) -> Option<(String, String)> {
    let mut table = String::new();
    let mut last_key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(name) = table_header(l) {
            table = name;
            last_key = None;
        } else if let Some(k) = key_of(l) {
            last_key = Some(k);
        }
        if i + 1 == line {
            return match table_header(l) {
                Some(name) => Some((String::new(), name)),
                None => last_key.map(|k| (table.clone(), k)),
            };
        }
    }
    None
}

/// The 1-based line where the dotted `key` is assigned, if it is written at all.
pub(crate) fn find_key_line(text: &str, dotted: &str) -> Option<usize> {
    let mut table = String::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(name) = table_header(l) {
            table = name;
            continue;
        }
        if let Some(k) = key_of(l) {
            let full = if table.is_empty() {
                k
            } else {
                format!("{table}.{k}")
            };
            if full == dotted {
                return Some(i + 1);
            }
        }
    }
    None
}

fn table_header(l: &str) -> Option<String> {
    let inner = l.strip_prefix('[')?.split(']').next()?;
    if l.starts_with("[[") || inner.contains('"') || inner.contains('=') {
        return None;
    }
    Some(inner.trim().to_string())
}

fn key_of(l: &str) -> Option<String> {
    if l.starts_with('#') {
        return None;
    }
    let (k, _) = l.split_once('=')?;
    let k: String = k
        .split('.')
        .map(|p| p.trim().trim_matches('"'))
        .collect::<Vec<_>>()
        .join(".");
    if k.is_empty()
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return None;
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_under_their_table() {
        let text = "a = 1\n[sip]\n# t1_ms = 3\n t1_ms = 4\n[runtime]\nt1_ms = 5\n";
        assert_eq!(find_key_line(text, "sip.t1_ms"), Some(4));
        assert_eq!(find_key_line(text, "runtime.t1_ms"), Some(6));
        assert_eq!(find_key_line(text, "a"), Some(1));
        assert_eq!(find_key_line(text, "sip.t2_ms"), None);
        assert_eq!(
            key_on_line(text, 6),
            Some(("runtime".into(), "t1_ms".into()))
        );
    }
}
