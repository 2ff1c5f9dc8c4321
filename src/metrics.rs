//! Latency recording: per-worker HDR histograms (microseconds, 3
//! significant figures), merged once at the end of a cell, and the
//! percentile summaries the report and the SLA read.
//!
//! The hot path only calls [`Recorder::record`]: no allocation, no lock.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Highest latency a histogram tracks: one hour, in microseconds. Larger
/// values are clamped to it (and show as the max).
const HIGHEST_US: u64 = 3_600_000_000;
const SIGFIG: u8 = 3;

/// The latencies leasebench records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// The lease statement(s), for leases that got work.
    Lease,
    /// The complete statement(s).
    Complete,
    /// Lease + work + complete.
    Cycle,
    /// Lease time minus the item's run_at: how long due work waited.
    PickupLag,
    /// Lease calls that found nothing.
    EmptyLease,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Lease,
        Metric::Complete,
        Metric::Cycle,
        Metric::PickupLag,
        Metric::EmptyLease,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Metric::Lease => "lease",
            Metric::Complete => "complete",
            Metric::Cycle => "cycle",
            Metric::PickupLag => "pickup_lag",
            Metric::EmptyLease => "empty_lease",
        }
    }
}

fn new_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, HIGHEST_US, SIGFIG).expect("static histogram bounds")
}

/// One worker's histograms.
#[derive(Debug, Clone)]
pub struct Recorder {
    hists: [Histogram<u32>; 5],
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            hists: std::array::from_fn(|_| new_histogram()),
        }
    }
}

impl Recorder {
    /// Record one value in microseconds (clamped into range).
    #[inline]
    pub fn record(&mut self, m: Metric, us: u64) {
        self.hists[m as usize].saturating_record(us.clamp(1, HIGHEST_US));
    }

    pub fn get(&self, m: Metric) -> &Histogram<u32> {
        &self.hists[m as usize]
    }

    /// Add another recorder's counts into this one.
    pub fn merge(&mut self, other: &Recorder) {
        for (a, b) in self.hists.iter_mut().zip(other.hists.iter()) {
            a.add(b).expect("histograms share bounds");
        }
    }
}

/// Percentiles of one latency, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub mean_ms: f64,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Summary {
    pub fn of(h: &Histogram<u32>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            min_ms: ms(h.min()),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// A histogram as text for the results JSON: HdrHistogram's V2 compressed
/// format, base64 (readable by any HdrHistogram implementation).
pub fn encode(h: &Histogram<u32>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing to memory");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// The inverse of [`encode`].
pub fn decode(s: &str) -> Result<Histogram<u32>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| Error::Internal(format!("histogram is not base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| Error::Internal(format!("histogram does not decode: {e:?}")))
}

/// Points of a latency CDF: (latency ms, fraction at or below).
pub fn cdf(h: &Histogram<u32>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<(f64, f64)> = Vec::new();
    for v in h.iter_quantiles(4) {
        let p = (ms(v.value_iterated_to()), v.quantile_iterated_to().min(1.0));
        match out.last_mut() {
            Some(last) if last.0 == p.0 => last.1 = last.1.max(p.1),
            _ => out.push(p),
        }
    }
    out.push((ms(h.max()), 1.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_distribution() {
        let mut r = Recorder::default();
        for us in 1..=10_000u64 {
            r.record(Metric::Lease, us);
        }
        let s = Summary::of(r.get(Metric::Lease));
        assert_eq!(s.count, 10_000);
        // 3 significant figures: within 0.1%.
        assert!((s.p50_ms - 5.0).abs() < 0.01, "{s:?}");
        assert!((s.p95_ms - 9.5).abs() < 0.01, "{s:?}");
        assert!((s.p99_ms - 9.9).abs() < 0.01, "{s:?}");
        assert!((s.max_ms - 10.0).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        a.record(Metric::Lease, 100);
        b.record(Metric::Lease, 200_000);
        b.record(Metric::Lease, 200_000);
        a.merge(&b);
        let s = Summary::of(a.get(Metric::Lease));
        assert_eq!(s.count, 3);
        assert!((s.max_ms - 200.0).abs() < 0.5);
        assert!((s.min_ms - 0.1).abs() < 0.001);
    }

    #[test]
    fn clamps_out_of_range() {
        let mut r = Recorder::default();
        r.record(Metric::PickupLag, 0);
        r.record(Metric::PickupLag, u64::MAX);
        assert_eq!(r.get(Metric::PickupLag).len(), 2);
    }

    #[test]
    fn encode_roundtrip() {
        let mut r = Recorder::default();
        for us in [5u64, 50, 500, 5000, 50_000] {
            r.record(Metric::Cycle, us);
        }
        let h = r.get(Metric::Cycle);
        let back = decode(&encode(h)).unwrap();
        assert_eq!(Summary::of(h), Summary::of(&back));
        assert!(decode("not base64!").is_err());
    }

    #[test]
    fn cdf_is_monotone_and_ends_at_one() {
        let mut r = Recorder::default();
        for us in 1..=1000u64 {
            r.record(Metric::Lease, us * 10);
        }
        let c = cdf(r.get(Metric::Lease));
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(c.last().unwrap().1, 1.0);
    }
}
