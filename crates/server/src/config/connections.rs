//! How many client connections the process can hold: the default connection cap, from the
//! open-file limit. Settings need it for their default; the accept loop (`http::connections`)
//! for its bookkeeping.

/// Most connections served when neither the settings nor the open-file limit say fewer.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Open files the process needs besides client connections: the listener, database files
/// and pooled connections, Redis, logs.
pub const FILES_BESIDES_CONNECTIONS: usize = 128;

/// Connections over the cap being answered 503 at once; more are closed without an answer,
/// so refusing cannot itself use up the descriptors the cap protects.
pub const REFUSALS_AT_ONCE: usize = 64;

/// The default `max_connections`: 10,000, or fewer when the process's open-file limit
/// would not hold that many besides the files it needs otherwise.
pub fn default_max_connections() -> usize {
    match open_file_limit() {
        Some(limit) => {
            DEFAULT_MAX_CONNECTIONS.min(limit.saturating_sub(FILES_BESIDES_CONNECTIONS + REFUSALS_AT_ONCE)).max(1)
        }
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// The soft limit on open files (`ulimit -n`), where the platform tells it without unsafe
/// code: Linux's `/proc/self/limits`. `None` when unknown or unlimited.
pub fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_fits_the_open_file_limit() {
        let cap = default_max_connections();
        assert!((1..=DEFAULT_MAX_CONNECTIONS).contains(&cap));
        if let Some(limit) = open_file_limit() {
            assert!(cap < limit, "{cap} connections under a limit of {limit} files");
        }
    }
}
