//! A minimal leveled logger to stderr: one line per event, UTC timestamp, no allocation
//! beyond the formatted line. The level is process-wide and set once from the configuration.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LogLevel;

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Relaxed);
}

pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Relaxed)
}

/// Write one line if `level` is enabled.
pub fn write(level: LogLevel, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let tag = match level {
        LogLevel::Error => "ERROR",
        LogLevel::Warn => "WARN ",
        LogLevel::Info => "INFO ",
        LogLevel::Debug => "DEBUG",
        LogLevel::Trace => "TRACE",
    };
    let line = format!(
        "{h:02}:{m:02}:{s:02}.{:03} {tag} {args}\n",
        now.subsec_millis()
    );
    // A failed write to stderr has nowhere better to be reported.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn error(args: std::fmt::Arguments<'_>) {
    write(LogLevel::Error, args)
}
pub fn warn(args: std::fmt::Arguments<'_>) {
    write(LogLevel::Warn, args)
}
pub fn info(args: std::fmt::Arguments<'_>) {
    write(LogLevel::Info, args)
}
pub fn debug(args: std::fmt::Arguments<'_>) {
    write(LogLevel::Debug, args)
}
