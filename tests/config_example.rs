//! ringlet.example.toml stays in sync with the defaults: it parses, equals the defaults,
//! names every key the defaults have (and no other), and every key has a comment above it.

use ringlet::config::Config;

const EXAMPLE: &str = include_str!("../ringlet.example.toml");

fn key_paths(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => key_paths(t, &path, out),
            _ => out.push(path),
        }
    }
}

#[test]
fn example_parses_and_equals_the_defaults() {
    let parsed =
        Config::from_toml_str(EXAMPLE).unwrap_or_else(|e| panic!("ringlet.example.toml: {e}"));
    assert_eq!(
        parsed,
        Config::default(),
        "the example documents the defaults"
    );
}

#[test]
fn example_covers_every_key_of_the_defaults() {
    let defaults: toml::Table = toml::from_str(&Config::default().to_toml_string()).unwrap();
    let example: toml::Table = toml::from_str(EXAMPLE).unwrap();
    let (mut want, mut have) = (Vec::new(), Vec::new());
    key_paths(&defaults, "", &mut want);
    key_paths(&example, "", &mut have);
    want.sort();
    have.sort();
    let missing: Vec<_> = want.iter().filter(|k| !have.contains(k)).collect();
    let extra: Vec<_> = have.iter().filter(|k| !want.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "keys missing from ringlet.example.toml: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "keys in ringlet.example.toml that Config lacks: {extra:?}"
    );
    assert!(want.len() >= 20, "the walk found the keys: {want:?}");
}

#[test]
fn every_key_in_the_example_is_commented() {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with('[') {
            continue;
        }
        assert!(
            i > 0 && lines[i - 1].trim().starts_with('#'),
            "line {}: `{l}` has no comment above it",
            i + 1
        );
    }
}
