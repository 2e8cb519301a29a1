//! `[registrar]` settings: expiry policy, per-AoR limits, the location table's shape and
//! where (and how often) registrations are written to disk.
//!
//! Every key has a default, so an empty `[registrar]` table (or none at all) gives the
//! behaviour an OpenSIPS operator expects from `registrar` + `usrloc` with `db_mode=1`-like
//! write-behind: min 60 s, max 3600 s, default 3600 s, one batch per second.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Registrar configuration (the `[registrar]` table of `ringlet.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrarConfig {
    /// Shortest non-zero registration accepted, seconds; shorter gets 423 Interval Too Brief
    /// with `Min-Expires` (RFC 3261 §10.3 step 7).
    pub min_expires: u32,
    /// Longest registration granted, seconds; longer requests are clamped to it
    /// (RFC 3261 §10.3 step 7: "the registrar MAY shorten the expiration interval").
    pub max_expires: u32,
    /// Expiry when neither the contact's `expires` parameter nor an `Expires` header gives
    /// one (RFC 3261 §10.2.1.1 leaves it to the registrar).
    pub default_expires: u32,
    /// Most bindings one AoR may hold; a REGISTER that would exceed it is refused with
    /// 503 (as OpenSIPS `max_contacts` does). 0 means no limit.
    pub max_contacts: u32,
    /// Number of location-table shards (rounded up to a power of two, at least 1).
    pub shards: u32,
    /// SQLite file holding registrations across restarts; `None` (or `db_path = ""` in the
    /// file, TOML having no null) keeps them in memory only. See [`RegistrarConfig::db_file`].
    #[serde(serialize_with = "db_path_out", deserialize_with = "db_path_in")]
    pub db_path: Option<PathBuf>,
    /// How often the write-behind thread commits a batch, milliseconds. A kill -9 loses at
    /// most this much of the latest registration activity.
    pub batch_interval_ms: u64,
    /// Capacity of the queue between workers and the write-behind thread, in AoR updates.
    /// When it is full a worker never waits: the update is counted and its shard is
    /// rewritten whole at the next batch.
    pub queue_capacity: u32,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 16,
            shards: 256,
            db_path: Some(PathBuf::from("ringlet-registrations.db")),
            batch_interval_ms: 1000,
            queue_capacity: 65_536,
        }
    }
}

/// `None` is written as `""` (TOML has no null), so `ringlet check` output reads back the same.
fn db_path_out<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => p.serialize(s),
        None => s.serialize_str(""),
    }
}

/// `""` means no database, the same as `None`.
fn db_path_in<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let p = PathBuf::deserialize(d)?;
    Ok((!p.as_os_str().is_empty()).then_some(p))
}

/// A configuration value that cannot work, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfigError {
    pub key: &'static str,
    pub reason: String,
}

impl std::fmt::Display for RegistrarConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[registrar] {}: {}", self.key, self.reason)
    }
}

impl std::error::Error for RegistrarConfigError {}

impl RegistrarConfig {
    /// Configuration without a database (tests, benchmarks, memory-only deployments).
    pub fn in_memory() -> Self {
        RegistrarConfig {
            db_path: None,
            ..RegistrarConfig::default()
        }
    }

    /// Checks the relations between keys that serde cannot.
    pub fn validate(&self) -> Result<(), RegistrarConfigError> {
        let err = |key, reason: String| Err(RegistrarConfigError { key, reason });
        if self.max_expires == 0 {
            return err("max_expires", "must be at least 1 second".into());
        }
        if self.min_expires > self.max_expires {
            return err(
                "min_expires",
                format!(
                    "{} is greater than max_expires ({})",
                    self.min_expires, self.max_expires
                ),
            );
        }
        if self.default_expires < self.min_expires || self.default_expires > self.max_expires {
            return err(
                "default_expires",
                format!(
                    "{} is outside min_expires..=max_expires ({}..={})",
                    self.default_expires, self.min_expires, self.max_expires
                ),
            );
        }
        if self.batch_interval_ms == 0 {
            return err("batch_interval_ms", "must be at least 1 ms".into());
        }
        if self.queue_capacity == 0 {
            return err("queue_capacity", "must be at least 1".into());
        }
        if self.shards == 0 || self.shards > 65_536 {
            return err("shards", format!("{} is outside 1..=65536", self.shards));
        }
        Ok(())
    }

    /// The database file to use, if registrations are persisted at all.
    pub fn db_file(&self) -> Option<&std::path::Path> {
        self.db_path
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// The batch interval as a `Duration`.
    pub fn batch_interval(&self) -> Duration {
        Duration::from_millis(self.batch_interval_ms)
    }

    /// The shard count actually used: `shards` rounded up to a power of two.
    pub fn shard_count(&self) -> usize {
        (self.shards.max(1) as usize).next_power_of_two()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_gives_the_documented_defaults() {
        let c: RegistrarConfig = toml::from_str("").unwrap();
        assert_eq!(c.min_expires, 60);
        assert_eq!(c.max_expires, 3600);
        assert_eq!(c.default_expires, 3600);
        assert_eq!(
            c.db_path.as_deref(),
            Some(std::path::Path::new("ringlet-registrations.db"))
        );
        assert_eq!(c.batch_interval(), Duration::from_millis(1000));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<RegistrarConfig>("min_expire = 5").unwrap_err();
        assert!(e.to_string().contains("min_expire"), "{e}");
    }

    #[test]
    fn inconsistent_values_name_the_key() {
        let c: RegistrarConfig = toml::from_str("min_expires = 600\nmax_expires = 300").unwrap();
        assert_eq!(c.validate().unwrap_err().key, "min_expires");
        let c: RegistrarConfig = toml::from_str("default_expires = 10").unwrap();
        assert_eq!(c.validate().unwrap_err().key, "default_expires");
        let c: RegistrarConfig = toml::from_str("shards = 100").unwrap();
        assert_eq!(c.shard_count(), 128);
        let c: RegistrarConfig = toml::from_str("db_path = \"\"").unwrap();
        assert_eq!(c.db_file(), None);
    }

    #[test]
    fn printed_config_reads_back_the_same() {
        for c in [RegistrarConfig::default(), RegistrarConfig::in_memory()] {
            let text = toml::to_string(&c).unwrap();
            assert_eq!(
                toml::from_str::<RegistrarConfig>(&text).unwrap(),
                c,
                "{text}"
            );
        }
        let text = toml::to_string(&RegistrarConfig::in_memory()).unwrap();
        assert!(text.contains("db_path = \"\""), "{text}");
    }
}
