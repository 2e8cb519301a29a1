//! The user list `ringlet load --users FILE` registers and calls as.
//!
//! One subscriber per line: `user domain password`, separated by spaces or tabs.
//! Blank lines and lines starting with `#` are ignored. A password may not contain
//! whitespace (the format has no quoting; load-test passwords never need it).
//!
//! ```text
//! # user   domain      password
//! alice    127.0.0.1   alice-secret
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user: String,
    pub domain: String,
    pub password: String,
}

/// A malformed user file: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFileError {
    pub file: PathBuf,
    /// 1-based; 0 when the file itself could not be read.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for UserFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
        }
    }
}

impl std::error::Error for UserFileError {}

/// Parse the text of a user file (`file` names it in errors).
pub fn parse_users(file: &Path, text: &str) -> Result<Vec<User>, UserFileError> {
    let err = |line: usize, reason: String| UserFileError {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let mut users = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [user, domain, password] = fields[..] else {
            return Err(err(
                i + 1,
                format!(
                    "expected 3 fields `user domain password`, found {}",
                    fields.len()
                ),
            ));
        };
        if let Some(bad) = user.chars().find(|c| !is_user_char(*c)) {
            return Err(err(
                i + 1,
                format!("field user: character {bad:?} not allowed in a SIP user part"),
            ));
        }
        if let Some(bad) = domain
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
        {
            return Err(err(
                i + 1,
                format!("field domain: character {bad:?} not allowed in a host"),
            ));
        }
        if password.contains('"') {
            return Err(err(
                i + 1,
                "field password: a double quote cannot be sent in a digest".to_string(),
            ));
        }
        users.push(User {
            user: user.to_string(),
            domain: domain.to_string(),
            password: password.to_string(),
        });
    }
    if users.is_empty() {
        return Err(err(0, "no users in file".to_string()));
    }
    Ok(users)
}

/// Unreserved and user-unreserved characters (RFC 3261 §25.1), no escapes.
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c)
}

/// Read and parse a user file.
pub fn load_users(file: &Path) -> Result<Vec<User>, UserFileError> {
    let text = std::fs::read_to_string(file).map_err(|e| UserFileError {
        file: file.to_path_buf(),
        line: 0,
        reason: e.to_string(),
    })?;
    parse_users(file, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_and_skips_comments() {
        let u = parse_users(
            Path::new("u.txt"),
            "# c\n\nalice 127.0.0.1 s1\n  bob\t127.0.0.1\tsecret \n",
        )
        .unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(
            u[1],
            User {
                user: "bob".into(),
                domain: "127.0.0.1".into(),
                password: "secret".into()
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse_users(Path::new("u.txt"), "alice 127.0.0.1 s1\nbob 127.0.0.1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "u.txt:2: expected 3 fields `user domain password`, found 2"
        );
        let e = parse_users(Path::new("u.txt"), "al@ce 127.0.0.1 s\n").unwrap_err();
        assert!(e.to_string().starts_with("u.txt:1: field user"), "{e}");
        let e = parse_users(Path::new("u.txt"), "al 127.0.0.1/x s\n").unwrap_err();
        assert!(e.to_string().starts_with("u.txt:1: field domain"), "{e}");
        let e = parse_users(Path::new("u.txt"), "al 127.0.0.1 a\"b\n").unwrap_err();
        assert!(e.to_string().starts_with("u.txt:1: field password"), "{e}");
        let e = parse_users(Path::new("u.txt"), "# only comments\n").unwrap_err();
        assert_eq!(e.to_string(), "u.txt: no users in file");
    }
}
