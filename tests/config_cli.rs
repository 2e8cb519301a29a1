//! `ringlet check` and refused configurations, through the real binary.

use std::process::Command;

fn ringlet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringlet"))
}

fn write_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ringlet-config-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_prints_the_effective_configuration() {
    let p = write_config("partial.toml", "[sip]\nt1_ms = 250\n");
    let out = ringlet()
        .args(["check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let effective = ringlet::config::Config::from_toml_str(&text).unwrap();
    assert_eq!(effective.sip.t1_ms, 250, "the file's value");
    assert_eq!(effective.sip.t2_ms, 4000, "a default filled in");
    assert!(text.contains("drain_ms = 5000"), "{text}");
}

#[test]
fn check_refuses_an_unknown_key_naming_file_line_and_key() {
    let p = write_config("unknown.toml", "[runtime]\nworkers = 2\nwrokers = 3\n");
    let out = ringlet()
        .args(["check", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown.toml:3:"), "{err}");
    assert!(err.contains("runtime.wrokers"), "{err}");
    assert!(err.contains("workers"), "lists the allowed keys: {err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn run_refuses_a_bad_config_and_does_not_start() {
    let p = write_config(
        "bad.toml",
        "listen = [\"127.0.0.1:0\"]\n[sip]\ntimer_c_ms = 1000\n",
    );
    let out = ringlet()
        .args(["run", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml:3:") && err.contains("sip.timer_c_ms"),
        "{err}"
    );
    assert!(!err.contains("listening"), "nothing started: {err}");
}

#[test]
fn run_refuses_a_missing_file() {
    let out = ringlet()
        .args(["run", "--config", "/nonexistent/ringlet.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ringlet.toml"));
}
