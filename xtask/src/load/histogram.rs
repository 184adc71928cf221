//! A log-linear histogram of microsecond values: exact below 128 µs, within 1/64 (1.6 %)
//! above, with the exact maximum kept aside. Fixed memory, O(1) per record.

use serde::Serialize;

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are counted exactly, one bucket each.
const LINEAR: u64 = 2 * SUB;
/// Largest value kept (about 19 minutes in µs); larger ones are clamped.
const MAX_VALUE: u64 = (1 << 40) - 1;
const BUCKETS: usize = (LINEAR + (40 - SUB_BITS as u64 - 1) * SUB) as usize;

/// The histogram. See the module docs.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let msb = 63 - u64::from(v.leading_zeros());
    let shift = msb - u64::from(SUB_BITS);
    let mantissa = v >> shift; // in [SUB, 2 * SUB)
    (LINEAR + (shift - 1) * SUB + (mantissa - SUB)) as usize
}

/// The middle of bucket `i` (its exact value in the linear range).
fn value_of(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let shift = (i - LINEAR) / SUB + 1;
    let mantissa = (i - LINEAR) % SUB + SUB;
    (mantissa << shift) + (1 << (shift - 1))
}

impl Histogram {
    /// Counts one value (µs).
    pub fn record(&mut self, micros: u64) {
        let v = micros.min(MAX_VALUE);
        self.counts[index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// The value at or below which `pct` % of the values lie (nearest rank), never above the
    /// maximum; `None` when empty.
    pub fn percentile(&self, pct: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((pct / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(value_of(i).min(self.max));
            }
        }
        Some(self.max)
    }

    /// p50, p99 and max in milliseconds; `None` when empty.
    pub fn summary_ms(&self) -> Option<Percentiles> {
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Percentiles {
            count: self.total,
            p50_ms: ms(self.percentile(50.0)?),
            p99_ms: ms(self.percentile(99.0)?),
            max_ms: ms(self.max),
        })
    }
}

/// A histogram's summary, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest value.
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.percentile(50.0), Some(50));
        assert_eq!(h.percentile(99.0), Some(99));
        assert_eq!(h.percentile(100.0), Some(100));
        assert_eq!(h.summary_ms().unwrap().count, 100);
        assert_eq!(Histogram::default().percentile(50.0), None);
    }

    #[test]
    fn large_values_within_two_percent() {
        for v in [128, 1_000, 12_345, 999_999, 50_000_000, 1 << 39] {
            let mut h = Histogram::default();
            h.record(v);
            h.record(v);
            let p = h.percentile(50.0).unwrap();
            let err = (p as f64 - v as f64).abs() / v as f64;
            assert!(err <= 0.016, "{v} -> {p}");
            assert!(index(v) < BUCKETS);
        }
    }

    #[test]
    fn buckets_are_monotonic_and_contain_their_values() {
        let mut last = 0;
        for v in (0..5_000_000u64).step_by(997) {
            let i = index(v);
            assert!(i >= last);
            last = i;
        }
        for i in 0..BUCKETS {
            assert_eq!(index(value_of(i)), i, "bucket {i}");
        }
    }

    #[test]
    fn tail_percentiles() {
        let mut a = Histogram::default();
        for _ in 0..990 {
            a.record(1_000);
        }
        for _ in 0..10 {
            a.record(250_000);
        }
        let s = a.summary_ms().unwrap();
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 1.0).abs() < 0.02);
        assert!((s.p99_ms - 1.0).abs() < 0.02, "{s:?}");
        assert_eq!(a.percentile(99.1).map(|v| v > 200_000), Some(true));
        assert_eq!(s.max_ms, 250.0);
    }
}
