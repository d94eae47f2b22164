//! The vm sysctls a scenario may set, with the kernel's defaults and ranges (Linux 6.x, `mm/page-writeback.c`,
//! `mm/page_alloc.c`, `mm/vmscan.c`, `mm/swap.c`, `fs/dcache.c`).
//!
//! Knobs are named in full as in `/proc/sys` (`vm.dirty_ratio`). `vm.min_free_kbytes` defaults to what the host
//! kernel (THP "madvise") sets at boot for the scenario's `machine.memory`: `calculate_min_free_kbytes()`
//! (`int_sqrt(lowmem_kbytes * 16)` clamped to `[128, 262144]`), raised by khugepaged's
//! `set_recommended_min_free_kbytes()` (two zones, or three above 4 GiB, at most 5% of lowmem); see
//! `crate::mm::page_alloc::default_min_free_kbytes` for the arithmetic and its simplifications.

use std::collections::BTreeMap;

/// One knob: full name, kernel default (None: computed), inclusive range.
struct Knob {
    name: &'static str,
    default: Option<u64>,
    min: u64,
    max: u64,
}

const PAGE: u64 = 4096;

const KNOBS: &[Knob] = &[
    Knob { name: "vm.dirty_ratio", default: Some(20), min: 0, max: 100 },
    Knob { name: "vm.dirty_background_ratio", default: Some(10), min: 0, max: 100 },
    // The kernel refuses a non-zero dirty_bytes below two pages (dirty_bytes_min).
    Knob { name: "vm.dirty_bytes", default: Some(0), min: 0, max: u64::MAX },
    Knob { name: "vm.dirty_background_bytes", default: Some(0), min: 0, max: u64::MAX },
    Knob { name: "vm.dirty_expire_centisecs", default: Some(3000), min: 0, max: i32::MAX as u64 },
    Knob { name: "vm.dirty_writeback_centisecs", default: Some(500), min: 0, max: i32::MAX as u64 },
    Knob { name: "vm.dirtytime_expire_seconds", default: Some(43200), min: 0, max: i32::MAX as u64 },
    Knob { name: "vm.min_free_kbytes", default: None, min: 0, max: i32::MAX as u64 },
    Knob { name: "vm.watermark_scale_factor", default: Some(10), min: 1, max: 3000 },
    Knob { name: "vm.watermark_boost_factor", default: Some(15000), min: 0, max: i32::MAX as u64 },
    Knob { name: "vm.swappiness", default: Some(60), min: 0, max: 200 },
    Knob { name: "vm.vfs_cache_pressure", default: Some(100), min: 0, max: i32::MAX as u64 },
    Knob { name: "vm.laptop_mode", default: Some(0), min: 0, max: i32::MAX as u64 },
    Knob { name: "vm.page-cluster", default: Some(3), min: 0, max: 31 },
];

/// The boot-time `vm.min_free_kbytes` for a machine of `memory` bytes (see the module doc).
pub fn default_min_free_kbytes(memory: u64) -> u64 {
    crate::mm::page_alloc::default_min_free_kbytes(memory)
}

/// Every vm knob the model reads, with the scenario's settings applied over the kernel defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysctls {
    /// vm.dirty_ratio: percent of dirtyable memory that may be dirty before writers are throttled.
    pub dirty_ratio: u64,
    /// vm.dirty_background_ratio: percent at which background writeback starts.
    pub dirty_background_ratio: u64,
    /// vm.dirty_bytes (0: the ratio applies).
    pub dirty_bytes: u64,
    /// vm.dirty_background_bytes (0: the ratio applies).
    pub dirty_background_bytes: u64,
    /// vm.dirty_expire_centisecs: age at which dirty data is written back by the periodic (kupdate) pass.
    pub dirty_expire_centisecs: u64,
    /// vm.dirty_writeback_centisecs: the flusher's period.
    pub dirty_writeback_centisecs: u64,
    /// vm.dirtytime_expire_seconds (read, not modelled).
    pub dirtytime_expire_seconds: u64,
    /// vm.min_free_kbytes: the zone's min watermark.
    pub min_free_kbytes: u64,
    /// vm.watermark_scale_factor: the gap between the zone's watermarks, in 1/10000 of its pages.
    pub watermark_scale_factor: u64,
    /// vm.watermark_boost_factor (read, not modelled: the model has no fragmentation).
    pub watermark_boost_factor: u64,
    /// vm.swappiness (read, not modelled: no anonymous memory).
    pub swappiness: u64,
    /// vm.vfs_cache_pressure (read, not modelled).
    pub vfs_cache_pressure: u64,
    /// vm.laptop_mode (read, not modelled).
    pub laptop_mode: u64,
    /// vm.page-cluster (read, not modelled: no swap).
    pub page_cluster: u64,
    explicit: BTreeMap<String, u64>,
}

/// Why a sysctl setting was refused: the offending name, message and hint.
pub(crate) struct SysctlError {
    pub name: String,
    pub msg: String,
    pub hint: Option<String>,
}

impl Sysctls {
    /// The kernel defaults for a machine with `memory` bytes.
    pub fn defaults(memory: u64) -> Sysctls {
        Sysctls::build(memory, BTreeMap::new())
    }

    fn build(memory: u64, explicit: BTreeMap<String, u64>) -> Sysctls {
        let get = |name: &str| -> u64 {
            explicit.get(name).copied().unwrap_or_else(|| {
                let knob = KNOBS.iter().find(|k| k.name == name).expect("knob table has every field");
                knob.default.unwrap_or_else(|| default_min_free_kbytes(memory))
            })
        };
        Sysctls {
            dirty_ratio: get("vm.dirty_ratio"),
            dirty_background_ratio: get("vm.dirty_background_ratio"),
            dirty_bytes: get("vm.dirty_bytes"),
            dirty_background_bytes: get("vm.dirty_background_bytes"),
            dirty_expire_centisecs: get("vm.dirty_expire_centisecs"),
            dirty_writeback_centisecs: get("vm.dirty_writeback_centisecs"),
            dirtytime_expire_seconds: get("vm.dirtytime_expire_seconds"),
            min_free_kbytes: get("vm.min_free_kbytes"),
            watermark_scale_factor: get("vm.watermark_scale_factor"),
            watermark_boost_factor: get("vm.watermark_boost_factor"),
            swappiness: get("vm.swappiness"),
            vfs_cache_pressure: get("vm.vfs_cache_pressure"),
            laptop_mode: get("vm.laptop_mode"),
            page_cluster: get("vm.page-cluster"),
            explicit,
        }
    }

    /// Checks the scenario's settings (names, ranges, exclusive pairs) and applies them over the defaults.
    pub(crate) fn with_settings(memory: u64, set: &BTreeMap<String, u64>) -> Result<Sysctls, SysctlError> {
        for (name, &value) in set {
            let Some(knob) = KNOBS.iter().find(|k| k.name == name) else {
                return Err(SysctlError {
                    name: name.clone(),
                    msg: format!("unknown sysctl `{name}`"),
                    hint: Some(match nearest(name) {
                        Some(near) => format!("did you mean `{near}`? known: {}", names().join(", ")),
                        None => format!("known: {}", names().join(", ")),
                    }),
                });
            };
            if value < knob.min || value > knob.max {
                return Err(SysctlError {
                    name: name.clone(),
                    msg: format!("{name} = {value} is out of range: the kernel accepts {}..={}", knob.min, knob.max),
                    hint: None,
                });
            }
            if name == "vm.dirty_bytes" && value != 0 && value < 2 * PAGE {
                return Err(SysctlError {
                    name: name.clone(),
                    msg: format!("vm.dirty_bytes = {value} is below the kernel's minimum of two pages (8192)"),
                    hint: Some("use 0 to fall back to vm.dirty_ratio, or at least 8192".into()),
                });
            }
        }
        for (bytes, ratio) in
            [("vm.dirty_bytes", "vm.dirty_ratio"), ("vm.dirty_background_bytes", "vm.dirty_background_ratio")]
        {
            if set.contains_key(bytes) && set.contains_key(ratio) {
                return Err(SysctlError {
                    name: bytes.into(),
                    msg: format!("{bytes} and {ratio} are both set, but they are exclusive"),
                    hint: Some(
                        "the kernel keeps only the last one written (writing one zeroes the other); set just one"
                            .into(),
                    ),
                });
            }
        }
        Ok(Sysctls::build(memory, set.clone()))
    }

    /// The value of knob `name` (full name, e.g. `vm.dirty_ratio`).
    pub fn get(&self, name: &str) -> Option<u64> {
        self.all().get(name).copied()
    }

    /// Only the knobs the scenario set, by full name.
    pub fn explicit(&self) -> &BTreeMap<String, u64> {
        &self.explicit
    }

    /// Every knob by full name.
    pub fn all(&self) -> BTreeMap<String, u64> {
        let values = [
            self.dirty_ratio,
            self.dirty_background_ratio,
            self.dirty_bytes,
            self.dirty_background_bytes,
            self.dirty_expire_centisecs,
            self.dirty_writeback_centisecs,
            self.dirtytime_expire_seconds,
            self.min_free_kbytes,
            self.watermark_scale_factor,
            self.watermark_boost_factor,
            self.swappiness,
            self.vfs_cache_pressure,
            self.laptop_mode,
            self.page_cluster,
        ];
        KNOBS.iter().zip(values).map(|(k, v)| (k.name.to_string(), v)).collect()
    }
}

fn names() -> Vec<&'static str> {
    KNOBS.iter().map(|k| k.name).collect()
}

/// The known knob closest to `name`: an exact match after adding `vm.` or swapping `-`/`_`, else the smallest
/// edit distance (if it is at most a third of the name).
fn nearest(name: &str) -> Option<&'static str> {
    let norm = |s: &str| s.trim_start_matches("vm.").replace('-', "_").to_ascii_lowercase();
    if let Some(k) = KNOBS.iter().find(|k| norm(k.name) == norm(name)) {
        return Some(k.name);
    }
    let (d, best) = KNOBS.iter().map(|k| (edit_distance(&norm(k.name), &norm(name)), k.name)).min()?;
    (d <= name.len() / 3 + 1).then_some(best)
}

/// Levenshtein distance.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_free_kbytes_follows_the_kernel_formula() {
        // 16 GiB: three zones, THP's 16896 pages (the host's 67584 KiB) beat int_sqrt(~16 Mi KiB * 16) ~ 16k.
        assert_eq!(default_min_free_kbytes(16 << 30), 67584);
        // 64 MiB: 16128 managed pages, int_sqrt(64512 * 16) = 1015 KiB, then 5% of lowmem above the high
        // watermark (16128 - 379 = 15749 pages) caps THP's recommendation at 787 pages = 3148 KiB.
        assert_eq!(default_min_free_kbytes(64 << 20), 3148);
        // 64 TiB: the square root's cap, 262144 KiB, is above THP's recommendation.
        assert_eq!(default_min_free_kbytes(64 << 40), 262_144);
    }

    #[test]
    fn defaults_explicit_and_all() {
        let mut set = BTreeMap::new();
        set.insert("vm.dirty_ratio".to_string(), 5);
        let s = Sysctls::with_settings(1 << 30, &set).ok().unwrap();
        assert_eq!(s.dirty_ratio, 5);
        assert_eq!(s.get("vm.dirty_background_ratio"), Some(10));
        assert_eq!(s.get("vm.page-cluster"), Some(3));
        assert_eq!(s.explicit().len(), 1);
        assert_eq!(s.all().len(), KNOBS.len());
        assert_eq!(Sysctls::defaults(1 << 30).get("vm.min_free_kbytes"), Some(45056));
    }

    #[test]
    fn refuses_unknown_out_of_range_and_exclusive() {
        let one = |k: &str, v: u64| Sysctls::with_settings(1 << 30, &BTreeMap::from([(k.to_string(), v)]));
        let e = one("dirty_ratio", 5).err().unwrap();
        assert!(e.hint.unwrap().starts_with("did you mean `vm.dirty_ratio`"));
        assert!(one("vm.dirty_ratio", 101).err().unwrap().msg.contains("out of range"));
        assert!(one("vm.dirty_bytes", 100).is_err());
        let both = BTreeMap::from([("vm.dirty_bytes".to_string(), 1 << 20), ("vm.dirty_ratio".to_string(), 5)]);
        assert!(Sysctls::with_settings(1 << 30, &both).err().unwrap().msg.contains("exclusive"));
    }
}
