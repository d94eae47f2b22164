//! lib/flex_proportions.c (6.18, unchanged since 6.12): floating proportions with a flexible aging period, the
//! writeout fraction of each wb among the domain's writeback completions.
//!
//! p_j = (Σ_i x_{i,j} / 2^(i+1)) / (Σ_i x_i / 2^(i+1)) over the periods i before now: each new period halves the
//! global count at once and each local count lazily, when it is next read or added to.
//!
//! Simplifications, each marked DIVERGENCE at its line: the percpu counters are exact sums (the kernel's
//! `percpu_counter_read` may lag the sum by up to nr_cpus * PROP_BATCH events).

/// FPROP_FRAC_SHIFT: max_prop_frac is in 1/1024ths.
pub const FPROP_FRAC_SHIFT: u32 = 10;
/// FPROP_FRAC_BASE: 1.0 in max_prop_frac's fixed point.
pub const FPROP_FRAC_BASE: u64 = 1 << FPROP_FRAC_SHIFT;

/// struct fprop_global: events in the current period (with the halved history folded in) and the period number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpropGlobal {
    pub events: i64,
    pub period: u32,
}

impl Default for FpropGlobal {
    /// fprop_global_init: one event, "to avoid dealing with periods with 0 events".
    fn default() -> Self {
        FpropGlobal { events: 1, period: 0 }
    }
}

/// struct fprop_local_percpu: one event type's (one wb's) count and the period it was last brought up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpropLocal {
    pub events: i64,
    pub period: u32,
}

impl FpropGlobal {
    /// fprop_new_period: declares `periods` new periods; false when aging has zeroed every count (the caller then
    /// stops its period timer).
    pub fn new_period(&mut self, periods: u32) -> bool {
        let mut events = self.events;
        if events <= 1 {
            return false;
        }
        if periods < 64 {
            events -= events >> periods;
        }
        self.events -= events;
        self.period = self.period.wrapping_add(periods);
        true
    }

    /// fprop_reflect_period_percpu: halves `pl` once per period it missed.
    fn reflect_period(&self, pl: &mut FpropLocal) {
        let period = self.period;
        if pl.period >= period {
            return;
        }
        let missed = period - pl.period;
        pl.events = if missed < 64 { pl.events >> missed } else { 0 };
        pl.period = period;
    }

    /// __fprop_add_percpu: `nr` events of type `pl`.
    pub fn add(&mut self, pl: &mut FpropLocal, nr: i64) {
        self.reflect_period(pl);
        pl.events += nr;
        self.events += nr;
    }

    /// fprop_fraction_percpu: (numerator, denominator) of `pl`'s share, kept ≤ 1 with a denominator > 0.
    pub fn fraction(&self, pl: &mut FpropLocal) -> (u64, u64) {
        self.reflect_period(pl);
        // DIVERGENCE: exact counts; the kernel reads the local count with percpu_counter_read_positive and the global
        // one with percpu_counter_sum, so the numerator may lag.
        let num = pl.events.max(0) as u64;
        let mut den = self.events.max(0) as u64;
        if den <= num {
            den = if num > 0 { num } else { 1 };
        }
        (num, den)
    }

    /// __fprop_add_percpu_max: like `add`, but only up to the fraction `max_frac` / FPROP_FRAC_BASE.
    pub fn add_max(&mut self, pl: &mut FpropLocal, max_frac: u64, mut nr: i64) {
        if max_frac < FPROP_FRAC_BASE {
            let (numerator, denominator) = self.fraction(pl);
            let tmp = (denominator * max_frac) as i64 - (numerator << FPROP_FRAC_SHIFT) as i64;
            if tmp < 0 {
                return;
            }
            let room = (FPROP_FRAC_BASE - max_frac) as i64;
            if tmp < nr * room {
                nr = (tmp + room - 1) / room;
            }
        }
        self.add(pl, nr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_local_type_starts_at_zero_and_history_halves_per_period() {
        let mut g = FpropGlobal::default();
        let (mut a, mut b) = (FpropLocal::default(), FpropLocal::default());
        assert_eq!(g.fraction(&mut a), (0, 1));
        g.add(&mut a, 300);
        g.add(&mut b, 100);
        assert_eq!(g.fraction(&mut a), (300, 401));
        assert!(g.new_period(1));
        // Global: 401 - (401 - 401/2) = 200; a is halved lazily when read.
        assert_eq!(g.fraction(&mut a), (150, 200));
        g.add(&mut b, 200);
        assert_eq!(g.fraction(&mut b), (250, 400));
        assert!(g.new_period(70), "a long idle gap zeroes the history");
        assert_eq!(g.events, 0);
        assert_eq!(g.fraction(&mut a), (0, 1));
        assert!(!g.new_period(1), "no events: the period timer stops");
    }

    #[test]
    fn add_max_saturates_at_the_cap() {
        let mut g = FpropGlobal::default();
        let (mut a, mut b) = (FpropLocal::default(), FpropLocal::default());
        g.add(&mut b, 999);
        // max_frac 512/1024: a may reach half of the total, no more.
        g.add_max(&mut a, 512, 5000);
        let (n, d) = g.fraction(&mut a);
        assert!(n * 2 >= d && (n - 1) * 2 < d - 1, "{n}/{d} just reaches one half");
        g.add_max(&mut a, 512, 10);
        assert_eq!(g.fraction(&mut a), (n, d), "over the cap: nothing counted");
    }
}
