//! An optional rotating-disk positioning model (scenario device field `seek`): a request that does not start where
//! the previous one ended pays a seek, growing with the square root of the distance from `min` (track to track) to
//! `max` (full stroke), plus half a rotation on average. Sequential requests pay nothing. Not checked against a
//! kernel capture (this host has no rotating disk): the figures come from the disk's datasheet.
//!
//! Simplifications, each marked DIVERGENCE at its line: no command queueing or elevator reordering inside the disk,
//! no track buffer, no zoned transfer rates.

use crate::units::Nanos;

/// A disk's positioning times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seek {
    pub min: Nanos,
    pub max: Nanos,
    pub rpm: u32,
}

impl Seek {
    /// Average rotational latency: half a revolution.
    pub fn half_rotation_ns(&self) -> u64 {
        30_000_000_000 / u64::from(self.rpm.max(1))
    }

    /// The positioning time of a request at `sector` when the head is at `head`, on a disk of `capacity` sectors.
    pub fn positioning_ns(&self, head: u64, sector: u64, capacity: u64) -> u64 {
        // DIVERGENCE: every request pays its own positioning from where the last one ended: no command queueing or
        // reordering in the disk, no track buffer, the same transfer rate on every zone.
        if sector == head {
            return 0;
        }
        let frac = (sector.abs_diff(head) as f64 / capacity.max(1) as f64).min(1.0);
        let seek = self.min.0 as f64 + (self.max.0.saturating_sub(self.min.0)) as f64 * frac.sqrt();
        seek.round() as u64 + self.half_rotation_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_is_free_and_a_full_stroke_costs_max_plus_half_a_turn() {
        let s = Seek { min: Nanos::from_us(500), max: Nanos::from_us(12_000), rpm: 7200 };
        assert_eq!(s.half_rotation_ns(), 4_166_666);
        assert_eq!(s.positioning_ns(1000, 1000, 1 << 30), 0);
        assert_eq!(s.positioning_ns(0, 1 << 30, 1 << 30), 12_000_000 + 4_166_666);
        // A quarter of the disk away: min + (max - min) * sqrt(1/4).
        assert_eq!(s.positioning_ns(0, 1 << 28, 1 << 30), 500_000 + 5_750_000 + 4_166_666);
    }
}
