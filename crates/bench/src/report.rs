//! The report: one JSON document (a settings header and one object per scenario) and the
//! same figures as a markdown table.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::database_limit::DatabaseLimit;
use crate::stats::LatencySummary;
use crate::workload::Scenario;

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub oxbase_version: &'static str,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    pub elapsed_seconds: f64,
    pub machine: Machine,
    pub settings: Settings,
    /// Rows per resource in the database.
    pub data: Vec<DataCount>,
    /// `GET /health/live` with the same load generator on the same server.
    pub http_limit: Option<HttpLimit>,
    /// Peak resident memory of the server over the whole run.
    pub server_peak_rss_mib: Option<f64>,
    /// The same for the access server (roles on), when an access variant ran.
    pub access_server_peak_rss_mib: Option<f64>,
    pub scenarios: Vec<ScenarioReport>,
}

/// The machine the run was on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_gib: Option<f64>,
    pub os: String,
    /// One-minute load average when the run started and when it ended: anything else busy
    /// on the machine (a build, another benchmark) shows here and skews every figure.
    pub load_average_start: Option<f64>,
    pub load_average_end: Option<f64>,
}

/// How the run was made.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub example: String,
    /// The scale asked for (the data set already in the database is used as it is).
    pub scale: String,
    pub database: String,
    pub engine: &'static str,
    pub duration_seconds: f64,
    pub warmup_seconds: f64,
    pub concurrency: u16,
    pub rate_fraction: f64,
    pub seed: u64,
    /// `started by the harness` or the `--url` given.
    pub server: String,
}

/// Rows of one resource.
#[derive(Debug, Clone, Serialize)]
pub struct DataCount {
    pub resource: String,
    pub rows: u64,
}

/// The throughput of the trivial route.
#[derive(Debug, Clone, Serialize)]
pub struct HttpLimit {
    /// Closed-loop maximum.
    pub requests_per_second: f64,
    /// At the same fraction of the maximum as the scenarios' latency.
    pub latency: Option<LatencySummary>,
    pub errors: u64,
}

/// The fixed-rate pass that measures latency.
#[derive(Debug, Clone, Serialize)]
pub struct FixedRate {
    /// Requests per second asked for.
    pub target_rate: f64,
    /// Answers per second obtained.
    pub achieved_rate: f64,
    /// Measured from each request's due time.
    pub latency: Option<LatencySummary>,
    pub errors: u64,
    pub unexpected_status: u64,
    /// Requests due but never sent before the end (their wait is in the latency, as a lower bound).
    pub dropped: u64,
}

/// One scenario's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioReport {
    pub id: String,
    pub group: String,
    pub name: String,
    pub request: String,
    /// The account whose access token the requests carry, to the server with roles (the
    /// access variants); none: the server without access control, no credentials.
    pub access: Option<String>,
    pub available: bool,
    /// Why the scenario did not run, or something to know about its figures.
    pub note: Option<String>,
    /// Closed-loop maximum at the configured concurrency.
    pub requests_per_second: Option<f64>,
    pub requests: u64,
    /// Requests that got no answer.
    pub errors: u64,
    /// Answers with a status the scenario does not expect (non-2xx; 304 is expected for
    /// conditional reads).
    pub unexpected_status: u64,
    pub statuses: BTreeMap<u16, u64>,
    /// Latency at the closed-loop maximum (queueing included, coordinated omission not
    /// corrected: see `fixed_rate` for the latency figures).
    pub closed_loop_latency: Option<LatencySummary>,
    pub fixed_rate: Option<FixedRate>,
    pub statements_per_request: Option<f64>,
    /// Reads: the share of answers served from the response cache (no statement ran).
    pub cache_hit_rate: Option<f64>,
    pub bytes_per_response: Option<f64>,
    /// Rows written per second (bulk writes).
    pub rows_per_second: Option<f64>,
    /// Peak resident memory of the server during this scenario.
    pub server_peak_rss_mib: Option<f64>,
    pub database_limit: Option<DatabaseLimit>,
    pub fraction_of_database_limit: Option<f64>,
    pub fraction_of_http_limit: Option<f64>,
    /// Access variants: req/s as a fraction of the plain scenario's in the same run (the
    /// same requests with access control off); 1 − this is the access overhead.
    pub fraction_of_access_off: Option<f64>,
    pub first_error: Option<String>,
}

impl ScenarioReport {
    /// Fills in the fractions of the two limits from the throughput.
    pub fn compute_fractions(&mut self, http_limit: Option<f64>) {
        let throughput = self.requests_per_second;
        let fraction = |limit: Option<f64>| match (throughput, limit) {
            (Some(throughput), Some(limit)) if limit > 0.0 => Some(throughput / limit),
            _ => None,
        };
        self.fraction_of_database_limit = fraction(self.database_limit.as_ref().map(|limit| limit.requests_per_second));
        self.fraction_of_http_limit = fraction(http_limit);
    }
}

/// Sets each access variant's [`ScenarioReport::fraction_of_access_off`] from its plain
/// scenario's report (`scenarios` says which requests each sends).
pub fn compare_access(reports: &mut [ScenarioReport], scenarios: &[&Scenario]) {
    let plain_rates: Vec<(String, Option<f64>)> =
        reports.iter().map(|report| (report.id.clone(), report.requests_per_second)).collect();
    for report in reports.iter_mut().filter(|report| report.access.is_some()) {
        let Some(scenario) = scenarios.iter().find(|scenario| scenario.id == report.id) else { continue };
        let plain = plain_rates.iter().find(|(id, _)| id == scenario.requests).and_then(|(_, rate)| *rate);
        report.fraction_of_access_off = match (report.requests_per_second, plain) {
            (Some(rate), Some(plain)) if plain > 0.0 => Some(rate / plain),
            _ => None,
        };
    }
}

/// A number with about three significant digits and thousands separators: `0.412`,
/// `12.3`, `1,234`, `56,789`.
pub fn significant(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        return thousands(value.round() as i64);
    }
    let decimals = if magnitude >= 100.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 1.0 {
        2
    } else {
        3
    };
    format!("{value:.decimals$}")
}

fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    if value < 0 {
        out.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn percent(fraction: Option<f64>) -> String {
    match fraction {
        Some(fraction) if fraction >= 0.1 => format!("{:.0} %", fraction * 100.0),
        Some(fraction) => format!("{:.1} %", fraction * 100.0),
        None => "–".to_owned(),
    }
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), significant)
}

impl Report {
    /// The markdown table, with a line on the run above it and notes below.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let settings = &self.settings;
        let _ = writeln!(
            out,
            "oxbase {} · {} ({}) on {} · server {} · {} s per phase after {} s warm-up · {} connections · latency at {:.0} % of each scenario's maximum rate · {}",
            self.oxbase_version,
            settings.example,
            self.data_summary(),
            settings.engine,
            settings.server,
            significant(settings.duration_seconds),
            significant(settings.warmup_seconds),
            settings.concurrency,
            settings.rate_fraction * 100.0,
            self.machine_summary(),
        );
        out.push('\n');
        out.push_str("| # | scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | errors / unexpected | statements / req | peak RSS MiB | DB limit req/s | of DB limit | of HTTP limit |\n");
        out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        if let Some(limit) = &self.http_limit {
            let latency = limit.latency;
            let _ = writeln!(
                out,
                "| HTTP | limit: GET /health/live | {} | {} | {} | {} | {} | {} / 0 | – | – | – | – | 100 % |",
                significant(limit.requests_per_second),
                optional(latency.map(|latency| latency.p50_ms)),
                optional(latency.map(|latency| latency.p90_ms)),
                optional(latency.map(|latency| latency.p99_ms)),
                optional(latency.map(|latency| latency.max_ms)),
                limit.errors,
            );
        }
        for scenario in &self.scenarios {
            if !scenario.available {
                let _ = writeln!(out, "| {} | {} | not available | | | | | | | | | | |", scenario.id, scenario.name);
                continue;
            }
            let latency = scenario.fixed_rate.as_ref().and_then(|fixed| fixed.latency);
            let (errors, unexpected) = match &scenario.fixed_rate {
                Some(fixed) => (scenario.errors + fixed.errors, scenario.unexpected_status + fixed.unexpected_status),
                None => (scenario.errors, scenario.unexpected_status),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {errors} / {unexpected} | {} | {} | {} | {} | {} |",
                scenario.id,
                scenario.name,
                optional(scenario.requests_per_second),
                optional(latency.map(|latency| latency.p50_ms)),
                optional(latency.map(|latency| latency.p90_ms)),
                optional(latency.map(|latency| latency.p99_ms)),
                optional(latency.map(|latency| latency.max_ms)),
                optional(scenario.statements_per_request),
                optional(scenario.server_peak_rss_mib),
                optional(scenario.database_limit.as_ref().map(|limit| limit.requests_per_second)),
                percent(scenario.fraction_of_database_limit),
                percent(scenario.fraction_of_http_limit),
            );
        }
        let notes: Vec<String> = self
            .scenarios
            .iter()
            .filter_map(|scenario| scenario.note.as_ref().map(|note| format!("- {}: {note}", scenario.id)))
            .chain(self.scenarios.iter().filter_map(|scenario| {
                scenario.rows_per_second.map(|rows| format!("- {}: {} rows/s", scenario.id, significant(rows)))
            }))
            .chain(self.scenarios.iter().filter_map(|scenario| {
                let fraction = scenario.fraction_of_access_off?;
                let plain =
                    self.scenarios.iter().find(|plain| plain.group == scenario.group && plain.access.is_none())?;
                Some(format!(
                    "- {}: access overhead {:.1} % ({} req/s as {} against {} for {}, access off)",
                    scenario.id,
                    (1.0 - fraction) * 100.0,
                    significant(scenario.requests_per_second.unwrap_or(0.0)),
                    scenario.access.as_deref().unwrap_or("?"),
                    significant(plain.requests_per_second.unwrap_or(0.0)),
                    plain.id,
                ))
            }))
            .chain(self.scenarios.iter().filter_map(|scenario| {
                scenario.cache_hit_rate.map(|rate| {
                    format!("- {}: {} % of answers from the response cache", scenario.id, significant(rate * 100.0))
                })
            }))
            .collect();
        if !notes.is_empty() {
            out.push('\n');
            for note in notes {
                out.push_str(&note);
                out.push('\n');
            }
        }
        out
    }

    fn data_summary(&self) -> String {
        let rows = |resource: &str| self.data.iter().find(|count| count.resource == resource).map(|count| count.rows);
        match (rows("trackers"), rows("tracker_comments")) {
            (Some(trackers), Some(comments)) => {
                format!("{} trackers, {} comments", thousands(trackers as i64), thousands(comments as i64))
            }
            _ => self.settings.scale.clone(),
        }
    }

    fn machine_summary(&self) -> String {
        let mut summary = format!("{} CPUs", self.machine.cpus);
        if let Some(model) = &self.machine.cpu_model {
            summary.push_str(&format!(" ({model})"));
        }
        if let Some(memory) = self.machine.memory_gib {
            summary.push_str(&format!(", {memory:.0} GiB"));
        }
        summary.push_str(&format!(", {}", self.machine.os));
        if let (Some(start), Some(end)) = (self.machine.load_average_start, self.machine.load_average_end) {
            summary.push_str(&format!(", load average {start:.2} → {end:.2}"));
        }
        summary
    }
}

/// The one-minute load average, from `/proc/loadavg`.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// What this machine is: CPU count and model and memory, from `/proc`.
pub fn this_machine() -> Machine {
    let cpus = std::thread::available_parallelism().map_or(1, |count| count.get());
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
        info.lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
    });
    let memory_gib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
        let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
        let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kilobytes / 1024.0 / 1024.0)
    });
    Machine {
        cpus,
        cpu_model,
        memory_gib,
        os: std::env::consts::OS.to_owned(),
        load_average_start: None,
        load_average_end: load_average(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(p50_ms: f64, p99_ms: f64) -> LatencySummary {
        LatencySummary { p50_ms, p90_ms: p50_ms * 2.0, p99_ms, max_ms: p99_ms * 3.0, mean_ms: p50_ms, samples: 100 }
    }

    fn report() -> Report {
        let mut point = ScenarioReport {
            id: "S1".into(),
            group: "S1".into(),
            name: "point read".into(),
            request: "GET /api/v1/trackers/{id}".into(),
            available: true,
            requests_per_second: Some(12_345.6),
            requests: 123_456,
            statuses: BTreeMap::from([(200, 123_456)]),
            fixed_rate: Some(FixedRate {
                target_rate: 9_259.2,
                achieved_rate: 9_250.0,
                latency: Some(latency(0.4123, 2.5)),
                errors: 0,
                unexpected_status: 0,
                dropped: 0,
            }),
            statements_per_request: Some(1.0),
            cache_hit_rate: Some(0.25),
            server_peak_rss_mib: Some(31.26),
            database_limit: Some(DatabaseLimit {
                requests_per_second: 98_765.0,
                requests: 987_650,
                statements_per_request: 1.0,
                client: "rusqlite, 32 threads with a reader connection each".into(),
                reprepares_per_execution_with_server_settings: Some(0.0),
                errors: 0,
                first_error: None,
            }),
            ..ScenarioReport::default()
        };
        point.compute_fractions(Some(24_691.2));
        let write = ScenarioReport {
            id: "S6".into(),
            group: "S6".into(),
            name: "single write".into(),
            note: Some("not available: the server answers 405 (method_not_allowed)".into()),
            ..ScenarioReport::default()
        };
        Report {
            oxbase_version: "0.1.0",
            started_at: "2026-11-23T10:00:00Z".into(),
            elapsed_seconds: 300.0,
            machine: Machine {
                cpus: 2,
                cpu_model: Some("Xeon".into()),
                memory_gib: Some(24.0),
                os: "linux".into(),
                load_average_start: Some(0.5),
                load_average_end: Some(1.25),
            },
            settings: Settings {
                example: "pearl".into(),
                scale: "default".into(),
                database: "sqlite:///tmp/pearl.db".into(),
                engine: "SQLite",
                duration_seconds: 10.0,
                warmup_seconds: 1.0,
                concurrency: 32,
                rate_fraction: 0.75,
                seed: 1,
                server: "started by the harness".into(),
            },
            data: vec![
                DataCount { resource: "trackers".into(), rows: 100_000 },
                DataCount { resource: "tracker_comments".into(), rows: 300_000 },
            ],
            http_limit: Some(HttpLimit { requests_per_second: 24_691.2, latency: Some(latency(1.2, 3.0)), errors: 0 }),
            server_peak_rss_mib: Some(40.0),
            access_server_peak_rss_mib: None,
            scenarios: vec![point, write],
        }
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(significant(0.41234), "0.412");
        assert_eq!(significant(2.5), "2.50");
        assert_eq!(significant(12.345), "12.3");
        assert_eq!(significant(123.4), "123");
        assert_eq!(significant(1234.5), "1,235");
        assert_eq!(significant(1_234_567.0), "1,234,567");
        assert_eq!(significant(f64::NAN), "–");
        assert_eq!(percent(Some(0.5)), "50 %");
        assert_eq!(percent(Some(0.0123)), "1.2 %");
        assert_eq!(percent(None), "–");
    }

    #[test]
    fn fractions_divide_the_throughput_by_each_limit() {
        let report = report();
        let point = &report.scenarios[0];
        assert!((point.fraction_of_database_limit.unwrap() - 12_345.6 / 98_765.0).abs() < 1e-12);
        assert!((point.fraction_of_http_limit.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(report.scenarios[1].fraction_of_http_limit, None);
    }

    #[test]
    fn the_markdown_table_has_one_row_per_scenario() {
        let markdown = report().to_markdown();
        let lines: Vec<&str> = markdown.lines().collect();
        assert!(
            lines[0]
                .starts_with("oxbase 0.1.0 · pearl (100,000 trackers, 300,000 comments) on SQLite · server started by the harness · 10.0 s per phase"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("2 CPUs (Xeon), 24 GiB, linux, load average 0.50 → 1.25"), "{}", lines[0]);
        assert_eq!(
            lines[2],
            "| # | scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | errors / unexpected | statements / req | peak RSS MiB | DB limit req/s | of DB limit | of HTTP limit |"
        );
        assert_eq!(
            lines[4],
            "| HTTP | limit: GET /health/live | 24,691 | 1.20 | 2.40 | 3.00 | 9.00 | 0 / 0 | – | – | – | – | 100 % |"
        );
        assert_eq!(
            lines[5],
            "| S1 | point read | 12,346 | 0.412 | 0.825 | 2.50 | 7.50 | 0 / 0 | 1.00 | 31.3 | 98,765 | 12 % | 50 % |"
        );
        assert_eq!(lines[6], "| S6 | single write | not available | | | | | | | | | | |");
        assert_eq!(lines[8], "- S6: not available: the server answers 405 (method_not_allowed)");
        assert_eq!(lines[9], "- S1: 25.0 % of answers from the response cache");
    }

    #[test]
    fn access_variants_are_compared_with_their_plain_scenario() {
        let mut report = report();
        let mut access = ScenarioReport {
            id: "S1-access".into(),
            group: "S1".into(),
            name: "point read, access on".into(),
            access: Some("viewer1".into()),
            requests_per_second: Some(11_111.04),
            ..report.scenarios[0].clone()
        };
        access.compute_fractions(Some(24_691.2));
        report.scenarios.insert(1, access);
        let scenarios: Vec<&Scenario> = crate::workload::SCENARIOS.iter().collect();
        compare_access(&mut report.scenarios, &scenarios);
        assert_eq!(report.scenarios[0].fraction_of_access_off, None, "plain scenarios have no comparison");
        assert!((report.scenarios[1].fraction_of_access_off.unwrap() - 0.9).abs() < 1e-9);
        let markdown = report.to_markdown();
        let lines: Vec<&str> = markdown.lines().collect();
        assert!(lines[6].starts_with("| S1-access | point read, access on | 11,111 |"), "{}", lines[6]);
        assert!(
            lines.contains(
                &"- S1-access: access overhead 10.0 % (11,111 req/s as viewer1 against 12,346 for S1, access off)"
            ),
            "{markdown}"
        );
    }

    #[test]
    fn the_json_has_one_object_per_scenario() {
        let json = serde_json::to_value(report()).unwrap();
        let scenarios = json["scenarios"].as_array().unwrap();
        assert_eq!(scenarios.len(), 2);
        assert_eq!(scenarios[0]["id"], "S1");
        assert_eq!(scenarios[0]["fixed_rate"]["latency"]["p99_ms"], 2.5);
        assert_eq!(scenarios[0]["database_limit"]["requests_per_second"], 98_765.0);
        assert_eq!(scenarios[0]["statuses"]["200"], 123_456);
        assert_eq!(scenarios[1]["available"], false);
        assert_eq!(json["machine"]["cpus"], 2);
    }
}
