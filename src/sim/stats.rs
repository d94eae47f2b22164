//! Latency histograms: log-linear buckets (16 per power of two), so percentiles are within 1/16 of the truth with
//! constant memory however many ops run.

#[derive(Clone, Debug)]
/// A latency histogram: log-linear buckets (16 per power of two), so quantiles are within 1/16 of the truth in constant memory.
pub struct Histogram {
    buckets: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    /// The largest value recorded.
    pub max: u64,
    /// The sum of the values recorded.
    pub sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: vec![0; 64 * 16], count: 0, max: 0, sum: 0 }
    }
}

const SUB: u64 = 16;

fn bucket(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros() as u64; // >= 4
    let sub = (v >> (exp - 4)) & (SUB - 1);
    ((exp - 3) * SUB + sub) as usize
}

fn lower_bound(b: usize) -> u64 {
    let b = b as u64;
    if b < SUB {
        return b;
    }
    let exp = b / SUB + 3;
    let sub = b % SUB;
    (SUB + sub) << (exp - 4)
}

impl Histogram {
    /// Records one value.
    pub fn record(&mut self, v: u64) {
        self.buckets[bucket(v)] += 1;
        self.count += 1;
        self.max = self.max.max(v);
        self.sum += v as u128;
    }

    /// Adds every value `other` recorded.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// The non-empty buckets in order: (lower bound, count); the last one's values are at most `max`.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.buckets.iter().enumerate().filter(|(_, &n)| n > 0).map(|(b, &n)| (lower_bound(b).min(self.max), n))
    }

    /// The value at quantile q (0..=1), as the lower bound of its bucket (exact below 16).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (b, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return lower_bound(b).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_tight() {
        let mut last = 0;
        for v in [0u64, 1, 15, 16, 17, 31, 32, 100, 1000, 123_456, u64::MAX / 2] {
            let b = bucket(v);
            assert!(b >= last);
            last = b;
            let lb = lower_bound(b);
            assert!(lb <= v && v - lb <= v / 16 + 1, "{v} -> {lb}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5);
        assert!((46_000..=50_000).contains(&p50), "{p50}");
        assert_eq!(h.max, 100_000);
        assert!(h.quantile(0.99) >= 93_000);
    }
}
