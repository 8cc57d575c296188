//! What a load phase counts: latencies in an HDR histogram (microseconds, 3 significant
//! digits, 1 µs to 1 h), answers by status, errors, statements and bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency the histogram holds exactly (larger ones are recorded as this).
const HIGHEST_MICROSECONDS: u64 = 3_600_000_000;

/// Counts of one worker, or of all workers merged.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latency of every recorded request, in microseconds.
    pub histogram: Histogram<u64>,
    /// Requests answered (any status).
    pub answered: u64,
    /// Requests that got no answer (connection refused or reset, timeout).
    pub errors: u64,
    /// Answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Answers with a status the scenario does not expect (not 2xx, or not 304 for a
    /// conditional read).
    pub unexpected: u64,
    /// Statements the server reported, summed over answers.
    pub statements: u64,
    /// Answers for which the server reported running no statement: for reads, answers
    /// from the response cache (hits and 304s).
    pub without_statements: u64,
    /// Body bytes, summed over answers.
    pub body_bytes: u64,
    /// Fixed-rate pass: requests due before the end that were never sent because their
    /// connection was still busy (recorded with their wait so far, a lower bound).
    pub dropped: u64,
    /// The first error seen, to show in the report.
    pub first_error: Option<String>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            histogram: Histogram::new_with_bounds(1, HIGHEST_MICROSECONDS, 3).expect("valid histogram bounds"),
            answered: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            unexpected: 0,
            statements: 0,
            without_statements: 0,
            body_bytes: 0,
            dropped: 0,
            first_error: None,
        }
    }
}

impl Tally {
    /// Records one latency.
    pub fn record_latency(&mut self, latency: Duration) {
        let microseconds = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).clamp(1, HIGHEST_MICROSECONDS);
        self.histogram.saturating_record(microseconds);
    }

    /// Records a request that got no answer.
    pub fn record_error(&mut self, error: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }

    /// Adds another worker's counts.
    pub fn merge(&mut self, other: &Tally) {
        self.histogram.add(&other.histogram).expect("histograms of the same bounds add");
        self.answered += other.answered;
        self.errors += other.errors;
        for (status, count) in &other.statuses {
            *self.statuses.entry(*status).or_default() += count;
        }
        self.unexpected += other.unexpected;
        self.statements += other.statements;
        self.without_statements += other.without_statements;
        self.body_bytes += other.body_bytes;
        self.dropped += other.dropped;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// Mean statements per answered request (answers without a database entry count as 0,
    /// so cache hits show).
    pub fn statements_per_request(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.statements as f64 / self.answered as f64)
    }

    /// The share of answers that ran no statement (`None` when none did, e.g. with the
    /// cache off): for a read scenario, its cache hit rate.
    pub fn without_statements_share(&self) -> Option<f64> {
        (self.without_statements > 0 && self.answered > 0)
            .then(|| self.without_statements as f64 / self.answered as f64)
    }

    /// Mean body size of an answer.
    pub fn bytes_per_response(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.body_bytes as f64 / self.answered as f64)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Requests the percentiles are over.
    pub samples: u64,
}

impl LatencySummary {
    /// The summary of a histogram of microseconds; none when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<LatencySummary> {
        if histogram.is_empty() {
            return None;
        }
        let milliseconds = |microseconds: u64| microseconds as f64 / 1000.0;
        Some(LatencySummary {
            p50_ms: milliseconds(histogram.value_at_quantile(0.50)),
            p90_ms: milliseconds(histogram.value_at_quantile(0.90)),
            p99_ms: milliseconds(histogram.value_at_quantile(0.99)),
            max_ms: milliseconds(histogram.max()),
            mean_ms: histogram.mean() / 1000.0,
            samples: histogram.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        // Three significant digits: within 0.1 % (plus rounding of the bucket edge).
        (actual - expected).abs() <= expected * 0.002
    }

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut tally = Tally::default();
        for milliseconds in 1..=1000 {
            tally.record_latency(Duration::from_millis(milliseconds));
        }
        let summary = LatencySummary::of(&tally.histogram).unwrap();
        assert!(close(summary.p50_ms, 500.0), "{summary:?}");
        assert!(close(summary.p90_ms, 900.0), "{summary:?}");
        assert!(close(summary.p99_ms, 990.0), "{summary:?}");
        assert!(close(summary.max_ms, 1000.0), "{summary:?}");
        assert!(close(summary.mean_ms, 500.5), "{summary:?}");
        assert_eq!(summary.samples, 1000);
    }

    #[test]
    fn one_slow_request_in_a_hundred_is_the_p99_not_the_p90() {
        let mut tally = Tally::default();
        for _ in 0..98 {
            tally.record_latency(Duration::from_micros(300));
        }
        tally.record_latency(Duration::from_millis(80));
        tally.record_latency(Duration::from_millis(2_000));
        let summary = LatencySummary::of(&tally.histogram).unwrap();
        assert!(close(summary.p50_ms, 0.3) && close(summary.p90_ms, 0.3), "{summary:?}");
        assert!(close(summary.p99_ms, 80.0), "{summary:?}");
        assert!(close(summary.max_ms, 2000.0), "{summary:?}");
    }

    #[test]
    fn extremes_are_clamped_not_lost() {
        let mut tally = Tally::default();
        tally.record_latency(Duration::ZERO);
        tally.record_latency(Duration::from_secs(10 * 3600));
        assert_eq!(tally.histogram.len(), 2);
        assert!(LatencySummary::of(&Tally::default().histogram).is_none());
    }

    #[test]
    fn merging_adds_counts_and_keeps_the_first_error() {
        let mut first = Tally { answered: 3, statements: 6, ..Tally::default() };
        first.statuses.insert(200, 3);
        first.record_latency(Duration::from_millis(1));
        assert_eq!(first.without_statements_share(), None, "no answer without a statement");
        let mut second = Tally { answered: 1, without_statements: 1, ..Tally::default() };
        second.statuses.insert(200, 1);
        second.statuses.insert(304, 2);
        second.record_error("connection reset");
        second.record_latency(Duration::from_millis(3));
        first.merge(&second);
        assert_eq!(first.answered, 4);
        assert_eq!(first.statuses, BTreeMap::from([(200, 4), (304, 2)]));
        assert_eq!(first.statements_per_request(), Some(1.5));
        assert_eq!(first.without_statements_share(), Some(0.25));
        assert_eq!(first.errors, 1);
        assert_eq!(first.first_error.as_deref(), Some("connection reset"));
        assert_eq!(first.histogram.len(), 2);
    }
}
