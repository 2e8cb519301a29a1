//! Safe edits of a table file for `ringlet user add|del|passwd`.
//!
//! An edit touches only the lines it must: a new `user` line goes after the last subscriber
//! of the same domain; `passwd` replaces the two HA1 values in place, keeping the rest of
//! the line (groups, spacing, trailing comment); `del` removes the subscriber's `user`,
//! `forward` and `voicemail` lines. Every other line, comments and blank lines included,
//! is kept byte for byte.
//!
//! In a table folder the edit goes to the file that holds the subscriber (or, for `add`,
//! its domain's subscribers), and the whole folder is validated with the edited file.
//!
//! The table is refused before editing if it already has errors (their line numbers then
//! match what the operator sees), and the edited table is compiled before anything is
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
use super::source::TableSource;
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

/// The new text of one file of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub file: PathBuf,
    pub text: String,
}

/// The table must be valid before we touch it.
fn precheck(src: &TableSource) -> Result<ForwardingSnapshot, TableError> {
    src.compile().map_err(|errs| {
        let mut e = first(errs, &src.root);
        e.reason = format!(
            "{} (the table has errors; fix them before editing)",
            e.reason
        );
        e
    })
}

/// The table with the edit applied must be valid before we write it.
fn postcheck(src: &TableSource, edit: &Edit) -> Result<ForwardingSnapshot, TableError> {
    let mut after = src.clone();
    for (p, t) in &mut after.files {
        if *p == edit.file {
            t.clone_from(&edit.text);
        }
    }
    after.compile().map_err(|errs| {
        let mut e = first(errs, &src.root);
        e.reason = format!("{} (in the edited table; nothing was written)", e.reason);
        e
    })
}

fn first(errs: Vec<TableError>, root: &Path) -> TableError {
    errs.into_iter()
        .next()
        .unwrap_or_else(|| TableError::new(root, 0, "", "refused"))
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

/// Add a subscriber. `groups` may be empty. The line goes after the last subscriber of
/// the same domain, else after the last subscriber, else at the end of the file that
/// declares the domain (in a folder, that decides the file).
pub fn add_user(
    src: &TableSource,
    aor: &str,
    password: &str,
    groups: &[String],
) -> Result<Edit, TableError> {
    let aor = parse_target(&src.root, aor)?;
    let snap = precheck(src)?;
    let Some(domain) = snap.domain_id(aor.domain.as_bytes()) else {
        return Err(user_error(
            &src.root,
            0,
            &aor,
            format!(
                "unknown domain \"{}\" (add a domain line first)",
                aor.domain
            ),
        ));
    };
    if let Some(s) = snap.subscriber(aor.user.as_bytes(), aor.domain.as_bytes()) {
        let file = &snap.source_files()[usize::from(s.file)];
        return Err(user_error(file, s.line, &aor, "already exists"));
    }
    for g in groups {
        if !syntax::is_name(g) {
            return Err(user_error(
                &src.root,
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

    // (file index, byte offset) candidates, best last.
    let mut after_same = None;
    let mut after_any = None;
    let mut domain_file = None;
    for (fi, (_, text)) in src.files.iter().enumerate() {
        for l in lines(text) {
            let t = syntax::tokenize(l.body);
            if t.len() >= 2 && t[0].text == "user" {
                let end = l.start + l.text.len();
                after_any = Some((fi, end));
                if parse_aor(t[1].text).is_ok_and(|a| a.domain == aor.domain) {
                    after_same = Some((fi, end));
                }
            }
            let declares = t.first().is_some_and(|k| k.text == "domain")
                && t[1..]
                    .iter()
                    .any(|d| syntax::normalize_host(d.text).as_deref() == snap.domain_name(domain));
            if declares {
                domain_file = Some((fi, text.len()));
            }
        }
    }
    let (fi, at) = after_same
        .or(after_any)
        .or(domain_file)
        .unwrap_or((0, usize::MAX));
    let Some((path, text)) = src.files.get(fi) else {
        return Err(user_error(&src.root, 0, &aor, "the table has no file"));
    };
    let at = at.min(text.len());
    let mut out = String::with_capacity(text.len() + new_line.len() + 1);
    out.push_str(&text[..at]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&new_line);
    out.push_str(&text[at..]);
    let edit = Edit {
        file: path.clone(),
        text: out,
    };
    postcheck(src, &edit)?;
    Ok(edit)
}

/// The file and line of an existing subscriber.
fn locate(
    src: &TableSource,
    snap: &ForwardingSnapshot,
    aor: &Aor,
) -> Result<(usize, u32), TableError> {
    let s = snap
        .subscriber(aor.user.as_bytes(), aor.domain.as_bytes())
        .ok_or_else(|| user_error(&src.root, 0, aor, "no such subscriber"))?;
    let path = &snap.source_files()[usize::from(s.file)];
    let fi = src
        .files
        .iter()
        .position(|(p, _)| p == path)
        .ok_or_else(|| user_error(path, s.line, aor, "file vanished while editing"))?;
    Ok((fi, s.line))
}

/// Remove a subscriber with its `forward` and `voicemail` lines. Refused while an alias or
/// DID still points at it (the operator decides where those numbers go), or while its
/// settings live in another file of a table folder (one edit rewrites one file).
pub fn delete_user(src: &TableSource, aor: &str) -> Result<Edit, TableError> {
    let aor = parse_target(&src.root, aor)?;
    let snap = precheck(src)?;
    let (home, user_line) = locate(src, &snap, &aor)?;
    let mut out = String::new();
    for (fi, (path, text)) in src.files.iter().enumerate() {
        for l in lines(text) {
            let t = syntax::tokenize(l.body);
            let points_here = t.len() == 3
                && (t[0].text == "alias" || t[0].text == "did")
                && parse_aor(t[2].text).is_ok_and(|a| a == aor);
            if points_here {
                return Err(user_error(
                    path,
                    l.number,
                    &aor,
                    format!(
                        "{} {} still points here; remove or retarget it first",
                        t[0].text, t[1].text
                    ),
                ));
            }
            let setting = names(&t, "forward", &aor) || names(&t, "voicemail", &aor);
            if setting && fi != home {
                return Err(user_error(
                    path,
                    l.number,
                    &aor,
                    format!("its {} line is in another file; remove it first", t[0].text),
                ));
            }
            if fi == home && !(setting || l.number == user_line) {
                out.push_str(l.text);
            }
        }
    }
    let edit = Edit {
        file: src.files[home].0.clone(),
        text: out,
    };
    postcheck(src, &edit)?;
    Ok(edit)
}

/// Set a subscriber's password: both HA1s are recomputed; the rest of the line is kept.
pub fn set_password(src: &TableSource, aor: &str, password: &str) -> Result<Edit, TableError> {
    let aor = parse_target(&src.root, aor)?;
    let snap = precheck(src)?;
    let (home, user_line) = locate(src, &snap, &aor)?;
    let (path, text) = &src.files[home];
    let (md5, sha) = ha1_tokens(&aor, password);
    let mut out = String::with_capacity(text.len() + 128);
    for l in lines(text) {
        if l.number != user_line {
            out.push_str(l.text);
            continue;
        }
        let t = syntax::tokenize(l.body);
        // Splice: replace existing md5=/sha256= tokens; a missing one goes after the last
        // HA1 token, or after user@domain.
        let mut cursor = 0;
        let mut insert_at = t.get(1).map_or(l.body.len(), |t| t.end());
        let (mut has_md5, mut has_sha) = (false, false);
        for tok in t.iter().skip(2) {
            let replacement = if tok.text.starts_with("md5=") {
                has_md5 = true;
                &md5
            } else if tok.text.starts_with("sha256=") {
                has_sha = true;
                &sha
            } else {
                continue;
            };
            out.push_str(&l.body[cursor..tok.start]);
            out.push_str(replacement);
            cursor = tok.end();
            insert_at = tok.end();
        }
        let insert_at = insert_at.max(cursor);
        out.push_str(&l.body[cursor..insert_at]);
        if !has_md5 {
            out.push(' ');
            out.push_str(&md5);
        }
        if !has_sha {
            out.push(' ');
            out.push_str(&sha);
        }
        out.push_str(&l.body[insert_at..]);
        out.push_str(&l.text[l.body.len()..]);
    }
    let edit = Edit {
        file: path.clone(),
        text: out,
    };
    postcheck(src, &edit)?;
    Ok(edit)
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

/// Read the table at `path` (file or folder), apply `edit`, validate, and write the one
/// changed file atomically. Returns the snapshot of the table as written.
pub fn edit_table(
    path: &Path,
    edit: impl FnOnce(&TableSource) -> Result<Edit, TableError>,
) -> Result<ForwardingSnapshot, TableError> {
    let src = TableSource::read(path)?;
    let change = edit(&src)?;
    let snap = postcheck(&src, &change)?;
    write_atomically(&change.file, &change.text)?;
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

    fn one(text: &str) -> TableSource {
        TableSource {
            root: PathBuf::from("t"),
            files: vec![(PathBuf::from("t"), text.to_string())],
        }
    }

    #[test]
    fn passwd_keeps_the_rest_of_the_line() {
        let out = set_password(&one(BASE), "alice@example.com", "pw")
            .unwrap()
            .text;
        let (md5, sha) = ha1_tokens(&parse_aor("alice@example.com").unwrap(), "pw");
        let want = format!("user alice@example.com {md5} {sha} groups=pstn  # Alice\n");
        assert!(out.contains(&want), "{out}");
        assert_eq!(out.lines().count(), BASE.lines().count());
        assert!(out.starts_with("# my table\ndomain example.com   # main\n"));
        // Again, now that both tokens exist: replaced in place.
        let again = set_password(&one(&out), "alice@example.com", "pw2")
            .unwrap()
            .text;
        let (md5, sha) = ha1_tokens(&parse_aor("alice@example.com").unwrap(), "pw2");
        assert!(again.contains(&format!(
            "user alice@example.com {md5} {sha} groups=pstn  # Alice\n"
        )));
    }

    #[test]
    fn add_goes_after_same_domain_and_del_removes_settings() {
        let out = add_user(&one(BASE), "bob@example.com", "b", &["pstn".into()])
            .unwrap()
            .text;
        let lines: Vec<_> = out.lines().collect();
        assert!(lines[4].starts_with("user bob@example.com md5="), "{out}");
        assert!(lines[4].ends_with(" groups=pstn"));
        assert_eq!(lines[5], "# end of users");
        let back = delete_user(&one(&out), "bob@example.com").unwrap().text;
        assert_eq!(back, BASE);
        let gone = delete_user(&one(BASE), "alice@example.com").unwrap().text;
        assert!(!gone.contains("alice"));
        assert!(gone.contains("# end of users"));
        // No user line yet: appended at the end of the file declaring the domain.
        let first = add_user(&one("domain example.com"), "x@example.com", "p", &[])
            .unwrap()
            .text;
        assert!(
            first.starts_with("domain example.com\nuser x@example.com md5="),
            "{first}"
        );
    }

    #[test]
    fn edits_refuse_bad_requests() {
        let e = add_user(&one(BASE), "alice@example.com", "x", &[]).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.reason.contains("already exists"));
        assert!(add_user(&one(BASE), "x@other.org", "x", &[]).is_err());
        assert!(delete_user(&one(BASE), "nobody@example.com").is_err());
        let with_alias = format!("{BASE}alias 100@example.com alice@example.com\n");
        let e = delete_user(&one(&with_alias), "alice@example.com").unwrap_err();
        assert_eq!(e.line, 7);
        let broken = format!("{BASE}bogus line\n");
        let e = set_password(&one(&broken), "alice@example.com", "x").unwrap_err();
        assert_eq!(e.line, 7);
    }

    #[test]
    fn folder_edits_touch_the_right_file() {
        let src = TableSource {
            root: PathBuf::from("dir"),
            files: vec![
                (
                    PathBuf::from("dir/00-domains.table"),
                    "domain a.example b.example\n".into(),
                ),
                (
                    PathBuf::from("dir/10-a.table"),
                    "user u1@a.example md5=00000000000000000000000000000000\n".into(),
                ),
                (PathBuf::from("dir/20-b.table"), "# customer b\n".into()),
            ],
        };
        let e = add_user(&src, "u2@a.example", "p", &[]).unwrap();
        assert_eq!(e.file, PathBuf::from("dir/10-a.table"));
        let e = set_password(&src, "u1@a.example", "p").unwrap();
        assert_eq!(e.file, PathBuf::from("dir/10-a.table"));
        let e = delete_user(&src, "u1@a.example").unwrap();
        assert_eq!(
            (e.file.as_path(), e.text.as_str()),
            (Path::new("dir/10-a.table"), "")
        );
    }
}
