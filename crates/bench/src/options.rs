//! What a benchmark run is asked to do: the `oxbase bench` flags.

use std::path::PathBuf;
use std::time::Duration;

/// `oxbase bench`: replays an example's workload against a server, measures the database
/// and HTTP limits in the same run, and writes a report.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// The example whose workload to replay.
    #[arg(long, default_value = "pearl")]
    pub example: String,
    /// Data set to seed when the database holds none yet: small, default or large.
    #[arg(long, default_value = "default")]
    pub scale: String,
    /// Database URL (sqlite://… or postgres://…; a missing PostgreSQL database is created):
    /// migrated and seeded unless it already holds the example's data; the database limit is
    /// measured on it directly.
    #[arg(long, env = "OXBASE_DATABASE")]
    pub database: String,
    /// How long each measured phase runs, e.g. 10s, 1.5s, 500ms, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// HTTP connections, and requests in flight for the database limit, kept busy at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Directory for the report (bench.json, bench.md), the schema served and the server's log.
    #[arg(long)]
    pub out: PathBuf,
    /// Only these scenarios, e.g. S3 or S4,S10 (S4 and S8 name both their variants).
    #[arg(long, value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// A running oxbase server to load (on this machine) instead of starting one; its
    /// database must be --database.
    #[arg(long)]
    pub url: Option<String>,
    /// The fixed-rate pass that measures latency runs at this fraction of the closed-loop
    /// maximum rate.
    #[arg(long, default_value_t = 0.5, value_parser = parse_fraction)]
    pub rate_fraction: f64,
    /// The started server's response cache: on or off [default: the server's default — on
    /// for SQLite, and for PostgreSQL with --redis].
    #[arg(long, value_parser = ["on", "off"])]
    pub cache: Option<String>,
    /// Redis for the started server (`serve --redis`): versions shared through Redis, which
    /// turns the cache on for PostgreSQL.
    #[arg(long)]
    pub redis: Option<String>,
    /// Seed of the request generator (the same seed replays the same requests).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Parses `10s`, `1.5s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_seconds) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 =
        number.trim().parse().map_err(|_| format!("invalid duration '{text}': write e.g. 10s, 1.5s, 500ms or 2m"))?;
    let seconds = value * unit_seconds;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(format!("invalid duration '{text}': it must be above 0 and at most an hour"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value > 0.0 && value <= 1.0 => Ok(value),
        _ => Err(format!("invalid fraction '{text}': expected a number above 0 and at most 1, e.g. 0.75")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("2h").is_err());
    }

    #[test]
    fn fractions_are_bounded() {
        assert_eq!(parse_fraction("0.75").unwrap(), 0.75);
        assert!(parse_fraction("0").is_err());
        assert!(parse_fraction("1.5").is_err());
    }
}
