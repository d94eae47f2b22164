//! The model's and the generators' random streams: one root seed per run, and an independent ChaCha8 stream per
//! purpose derived from it by name (DESIGN: a new random knob in one place never reorders another's draws). Every
//! random choice in pcsim (the scenario generators' offsets, a writer's CPU stalls, a device's batch rates) draws
//! from a stream made here; nothing uses the OS's entropy or thread_rng.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// SplitMix64's output function (Steele, Lea & Flood, 2014): a bijective 64-bit mixer.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The "pcsim-scenario-v1" stream derivation: `k = sm(seed ^ "pcsimgen")`, then `k = sm(k ^ part)` for
/// `part` in (task, generator ordinal, purpose), where `sm` is SplitMix64's output function. Changing this changes every
/// generated workload, so it is versioned by name in docs/SCENARIO.md.
pub fn stream_key(seed: u64, task: u64, generator: u64, purpose: u64) -> u64 {
    let mut k = splitmix64(seed ^ u64::from_le_bytes(*b"pcsimgen"));
    for part in [task, generator, purpose] {
        k = splitmix64(k ^ part);
    }
    k
}

/// A ChaCha8 generator whose 32-byte key is four SplitMix64 outputs of `key`, `key + 1`, `key + 2`, `key + 3`.
pub fn chacha(key: u64) -> ChaCha8Rng {
    let mut seed = [0u8; 32];
    for (i, chunk) in seed.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&splitmix64(key.wrapping_add(i as u64)).to_le_bytes());
    }
    ChaCha8Rng::from_seed(seed)
}

/// A uniform integer in `[0, n)` (Lemire 2019, unbiased). `n` must be non-zero.
pub fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0, "below(0)");
    below_with(rng, n, below_threshold(n))
}

/// The rejection threshold [`below`] uses for `n` (a division: callers drawing many numbers below the same `n`
/// compute it once).
#[inline]
pub fn below_threshold(n: u64) -> u64 {
    n.wrapping_neg() % n
}

/// [`below`] with its threshold computed beforehand (`below_threshold(n)`): the same numbers.
#[inline]
pub fn below_with(rng: &mut ChaCha8Rng, n: u64, threshold: u64) -> u64 {
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

/// A uniform f64 in `[0, 1)` with 53 random bits.
pub fn unit_f64(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}
