//! Server-wide latency histograms of the runtime's own delays on a turn, shared by every call
//! of a server (lock-free: relaxed atomic buckets, no lock on any call's path).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket upper bounds in microseconds: 1-2-5 steps from 10 µs to 10 s.
pub const BUCKETS_US: [u64; 19] = [
    10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000,
    500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000,
];

/// A fixed-bucket histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    /// One counter per bucket plus the overflow bucket (+Inf).
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

/// A copy of a histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// `(upper bound, cumulative count)`, the last bound being `None` (+Inf).
    pub buckets: Vec<(Option<Duration>, u64)>,
    /// Sum of all samples.
    pub sum: Duration,
    /// Number of samples.
    pub count: u64,
}

impl Histogram {
    /// Records one sample.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BUCKETS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads the histogram.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                total += b.load(Ordering::Relaxed);
                (
                    BUCKETS_US.get(i).map(|&us| Duration::from_micros(us)),
                    total,
                )
            })
            .collect();
        HistogramSnapshot {
            buckets,
            sum: Duration::from_micros(self.sum_us.load(Ordering::Relaxed)),
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

impl HistogramSnapshot {
    /// The upper bound of the bucket holding quantile `q` (0..=1): "p99 ≤ this". `None` with no
    /// samples, or when the quantile is beyond the last finite bucket.
    pub fn quantile_upper_bound(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.count as f64).ceil().max(1.0) as u64;
        self.buckets
            .iter()
            .find(|(_, cumulative)| *cumulative >= rank)
            .and_then(|(bound, _)| *bound)
    }
}

/// The runtime's own delays on a turn, across every call of a server.
#[derive(Debug, Default)]
pub struct TurnLatency {
    /// The recogniser reported a committed transcript → the bot's event was emitted.
    pub commit_to_event: Histogram,
    /// A speak request → the provider's first audio byte.
    pub speak_to_first_byte: Histogram,
    /// The provider's first audio byte → the first frame handed to the transport.
    pub first_byte_to_first_frame: Histogram,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_their_buckets_and_quantiles_bound_them() {
        let h = Histogram::default();
        for us in [5, 15, 15, 900, 30_000_000] {
            h.record(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.buckets[0], (Some(Duration::from_micros(10)), 1));
        assert_eq!(s.buckets[1], (Some(Duration::from_micros(20)), 3));
        assert_eq!(s.buckets.last(), Some(&(None, 5)));
        assert_eq!(s.quantile_upper_bound(0.5), Some(Duration::from_micros(20)));
        assert_eq!(s.quantile_upper_bound(0.8), Some(Duration::from_millis(1)));
        assert_eq!(
            s.quantile_upper_bound(1.0),
            None,
            "beyond the last finite bucket"
        );
        assert_eq!(
            Histogram::default().snapshot().quantile_upper_bound(0.5),
            None
        );
    }
}
