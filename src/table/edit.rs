//! Safe edits of a table file for `ringlet user add|del|passwd`.
//!
//! An edit touches only the lines it must: a new `user` line goes after the last subscriber
//! of the same domain; `passwd` replaces the two HA1 values in place, keeping the rest of
//! the line (groups, spacing, trailing comment); `del` removes the subscriber's `user`,
//! `forward` and `voicemail` lines. Every other line, comments and blank lines included,
//! is kept byte for byte.
//!
//! The file is refused before editing if it already has errors (their line numbers then
//! match what the operator sees), and the edited text is compiled before anything is
//! written. It is then written to a temporary file in the same directory, fsynced, given
//! the original's permissions and renamed over the original, so a running Ringlet (or a
//! crash) sees either the old or the new file, never half of one.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::TableError;
use super::ha1;
use super::parse::{parse_aor, Aor};
use super::snapshot::ForwardingSnapshot;
use super::syntax::{self, Token};

/// One line of the file with its byte range (including its line ending).
struct Line<'a> {
    number: u32,
    start: usize,
    text: &'a str,
    /// The line without its `\n` / `\r\n`.
    body: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let body = raw.strip_suffix('\n').unwrap_or(raw);
        let body = body.strip_suffix('\r').unwrap_or(body);
        out.push(Line {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            start,
            text: raw,
            body,
        });
        start += raw.len();
    }
    out
}

/// `keyword user@domain ...` naming `aor`?
fn names(tokens: &[Token<'_>], keyword: &str, aor: &Aor) -> bool {
    tokens.len() >= 2
        && tokens[0].text == keyword
        && parse_aor(tokens[1].text).is_ok_and(|a| a == *aor)
}

fn user_error(file: &Path, line: u32, aor: &Aor, reason: impl Into<String>) -> TableError {
    TableError::new(file, line, format!("subscriber \"{aor}\""), reason)
}

fn parse_target(file: &Path, aor: &str) -> Result<Aor, TableError> {
    parse_aor(aor).map_err(|r| TableError::new(file, 0, "subscriber", r))
}

/// The file must be valid before we touch it.
fn precheck(text: &str, file: &Path) -> Result<ForwardingSnapshot, TableError> {
    ForwardingSnapshot::parse(text, file).map_err(|mut e| {
        e.reason = format!(
            "{} (the file has errors; fix them before editing)",
            e.reason
        );
        e
    })
}

/// The edited text must be valid before we write it.
fn postcheck(text: &str, file: &Path) -> Result<(), TableError> {
    ForwardingSnapshot::parse(text, file)
        .map(|_| ())
        .map_err(|mut e| {
            e.reason = format!("{} (in the edited file; nothing was written)", e.reason);
            e
        })
}

/// Both HA1 tokens for a password (realm = the domain).
fn ha1_tokens(aor: &Aor, password: &str) -> (String, String) {
    let md5 = ha1::ha1_md5(&aor.user, &aor.domain, password);
    let sha = ha1::ha1_sha256(&aor.user, &aor.domain, password);
    (
        format!("md5={}", String::from_utf8_lossy(&md5)),
        format!("sha256={}", String::from_utf8_lossy(&sha)),
    )
}

/// Add a subscriber. `groups` may be empty.
pub fn add_user(
    text: &str,
    file: &Path,
    aor: &str,
    password: &str,
    groups: &[String],
) -> Result<String, TableError> {
    let aor = parse_target(file, aor)?;
    let snap = precheck(text, file)?;
    if !snap.is_local_domain(aor.domain.as_bytes()) {
        return Err(user_error(
            file,
            0,
            &aor,
            format!(
                "unknown domain \"{}\" (add a domain line first)",
                aor.domain
            ),
        ));
    }
    if let Some(s) = snap.subscriber(aor.user.as_bytes(), aor.domain.as_bytes()) {
        return Err(user_error(file, s.line, &aor, "already exists"));
    }
    for g in groups {
        if !syntax::is_name(g) {
            return Err(user_error(
                file,
                0,
                &aor,
                format!("group {g:?} is not a valid name"),
            ));
        }
    }
    let (md5, sha) = ha1_tokens(&aor, password);
    let mut new_line = format!("user {aor} {md5} {sha}");
    if !groups.is_empty() {
        new_line.push_str(" groups=");
        new_line.push_str(&groups.join(","));
    }
    new_line.push('\n');

    // After the last user of the same domain, else after the last user, else at the end.
    let all = lines(text);
    let mut after_same = None;
    let mut after_any = None;
    for l in &all {
        let t = syntax::tokenize(l.body);
        if t.len() >= 2 && t[0].text == "user" {
            let end = l.start + l.text.len();
            after_any = Some(end);
            if parse_aor(t[1].text).is_ok_and(|a| a.domain == aor.domain) {
                after_same = Some(end);
            }
        }
    }
    let at = after_same.or(after_any).unwrap_or(text.len());
    let mut out = String::with_capacity(text.len() + new_line.len() + 1);
    out.push_str(&text[..at]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&new_line);
    out.push_str(&text[at..]);
    postcheck(&out, file)?;
    Ok(out)
}

/// Remove a subscriber with its `forward` and `voicemail` lines. Refused while an alias or
/// DID still points at it (the operator decides where those numbers go).
pub fn delete_user(text: &str, file: &Path, aor: &str) -> Result<String, TableError> {
    let aor = parse_target(file, aor)?;
    precheck(text, file)?;
    let all = lines(text);
    let mut found = false;
    let mut out = String::with_capacity(text.len());
    for l in &all {
        let t = syntax::tokenize(l.body);
        if names(&t, "user", &aor) {
            found = true;
            continue;
        }
        if names(&t, "forward", &aor) || names(&t, "voicemail", &aor) {
            continue;
        }
        let points_here = t.len() == 3
            && (t[0].text == "alias" || t[0].text == "did")
            && parse_aor(t[2].text).is_ok_and(|a| a == aor);
        if points_here {
            return Err(user_error(
                file,
                l.number,
                &aor,
                format!(
                    "{} {} still points here; remove or retarget it first",
                    t[0].text, t[1].text
                ),
            ));
        }
        out.push_str(l.text);
    }
    if !found {
        return Err(user_error(file, 0, &aor, "no such subscriber"));
    }
    postcheck(&out, file)?;
    Ok(out)
}

/// Set a subscriber's password: both HA1s are recomputed; the rest of the line is kept.
pub fn set_password(
    text: &str,
    file: &Path,
    aor: &str,
    password: &str,
) -> Result<String, TableError> {
    let aor = parse_target(file, aor)?;
    precheck(text, file)?;
    let all = lines(text);
    let (md5, sha) = ha1_tokens(&aor, password);
    let mut out = String::with_capacity(text.len() + 128);
    let mut found = false;
    for l in &all {
        let t = syntax::tokenize(l.body);
        if !names(&t, "user", &aor) {
            out.push_str(l.text);
            continue;
        }
        found = true;
        // Splice: replace existing md5=/sha256= tokens, append missing ones after the
        // user@domain token (or after the last HA1 token).
        let mut line = String::with_capacity(l.text.len() + 100);
        let mut cursor = 0;
        let mut insert_at = t[1].end();
        let (mut has_md5, mut has_sha) = (false, false);
        for tok in &t[2..] {
            let replacement = if tok.text.starts_with("md5=") {
                has_md5 = true;
                &md5
            } else if tok.text.starts_with("sha256=") {
                has_sha = true;
                &sha
            } else {
                continue;
            };
            line.push_str(&l.body[cursor..tok.start]);
            line.push_str(replacement);
            cursor = tok.end();
            insert_at = tok.end();
        }
        let mut missing = String::new();
        if !has_md5 {
            missing.push(' ');
            missing.push_str(&md5);
        }
        if !has_sha {
            missing.push(' ');
            missing.push_str(&sha);
        }
        if insert_at < cursor {
            // Only possible if no HA1 token was replaced; then cursor is 0.
            insert_at = cursor;
        }
        line.push_str(&l.body[cursor..insert_at]);
        line.push_str(&missing);
        line.push_str(&l.body[insert_at..]);
        line.push_str(&l.text[l.body.len()..]);
        out.push_str(&line);
    }
    if !found {
        return Err(user_error(file, 0, &aor, "no such subscriber"));
    }
    postcheck(&out, file)?;
    Ok(out)
}

/// Replace `path` with `contents` atomically: temporary file in the same directory,
/// fsync, original permissions, rename, fsync of the directory.
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), TableError> {
    let io = |e: std::io::Error| TableError::io(path, &e);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "table".into());
    let tmp = dir.join(format!(".{name}.ringlet-tmp.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(fs::Permissions::from_mode(meta.permissions().mode()))?;
        }
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is on disk.
        fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Read `path`, apply `edit`, write the result atomically. Returns the new snapshot's
/// counts as a check of what was written.
pub fn edit_file(
    path: &Path,
    edit: impl FnOnce(&str) -> Result<String, TableError>,
) -> Result<ForwardingSnapshot, TableError> {
    let text = super::read_table_file(path)?;
    let new = edit(&text)?;
    let snap = ForwardingSnapshot::parse(&new, path)?;
    write_atomically(path, &new)?;
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "\
# my table
domain example.com   # main

user alice@example.com md5=00000000000000000000000000000000 groups=pstn  # Alice
# end of users
forward alice@example.com busy sip:vm@example.com
";

    #[test]
    fn passwd_keeps_the_rest_of_the_line() {
        let f = Path::new("t");
        let out = set_password(BASE, f, "alice@example.com", "pw").unwrap();
        let (md5, sha) = ha1_tokens(&parse_aor("alice@example.com").unwrap(), "pw");
        let want = format!("user alice@example.com {md5} {sha} groups=pstn  # Alice\n");
        assert!(out.contains(&want), "{out}");
        assert_eq!(out.lines().count(), BASE.lines().count());
        assert!(out.starts_with("# my table\ndomain example.com   # main\n"));
    }

    #[test]
    fn add_goes_after_same_domain_and_del_removes_settings() {
        let f = Path::new("t");
        let out = add_user(BASE, f, "bob@example.com", "b", &["pstn".into()]).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert!(lines[4].starts_with("user bob@example.com md5="), "{out}");
        assert!(lines[4].ends_with(" groups=pstn"));
        assert_eq!(lines[5], "# end of users");
        let back = delete_user(&out, f, "bob@example.com").unwrap();
        assert_eq!(back, BASE);
        let gone = delete_user(BASE, f, "alice@example.com").unwrap();
        assert!(!gone.contains("alice"));
        assert!(gone.contains("# end of users"));
    }

    #[test]
    fn edits_refuse_bad_requests() {
        let f = Path::new("t");
        let e = add_user(BASE, f, "alice@example.com", "x", &[]).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.reason.contains("already exists"));
        assert!(add_user(BASE, f, "x@other.org", "x", &[]).is_err());
        assert!(delete_user(BASE, f, "nobody@example.com").is_err());
        let with_alias = format!("{BASE}alias 100@example.com alice@example.com\n");
        let e = delete_user(&with_alias, f, "alice@example.com").unwrap_err();
        assert_eq!(e.line, 7);
        let broken = format!("{BASE}bogus line\n");
        let e = set_password(&broken, f, "alice@example.com", "x").unwrap_err();
        assert_eq!(e.line, 7);
    }
}
