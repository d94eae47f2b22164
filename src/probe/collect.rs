//! What the probe reads from the host around a run: residency (cachestat(2), mincore(2)), /proc/vmstat deltas,
//! extent maps (FIEMAP), and which other reclaimers (kswapd, DAMON's kdamond) are active.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use serde::Serialize;

use super::host;

/// cachestat(2) results: the model's struct (pages).
pub use crate::trace::cachestat::Cachestat;

const SYS_CACHESTAT: libc::c_long = 451;

/// cachestat(2) over the whole file; `None` where the syscall is missing (Linux < 6.5).
pub fn cachestat(f: &File) -> Option<Cachestat> {
    let mut cs = [0u64; 5];
    (cachestat_range(f.as_raw_fd(), 0, 0, &mut cs) == 0).then_some(Cachestat {
        nr_cache: cs[0],
        nr_dirty: cs[1],
        nr_writeback: cs[2],
        nr_evicted: cs[3],
        nr_recently_evicted: cs[4],
    })
}

/// cachestat(2) of the pages holding bytes [off, off+len) of `fd` (len 0: to the end) into `cs` (nr_cache,
/// nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted); returns 0 or the negative errno.
pub fn cachestat_range(fd: std::os::unix::io::RawFd, off: u64, len: u64, cs: &mut [u64; 5]) -> i64 {
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    let range = Range { off, len };
    // SAFETY: cachestat(fd, &range, &cs, 0) with the kernel's struct layouts (all u64); a bad fd fails with EBADF.
    let r = unsafe { libc::syscall(SYS_CACHESTAT, fd, &range, cs.as_mut_ptr(), 0u32) };
    if r < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as i64)
    } else {
        0
    }
}

/// Resident pages of a file by mincore(2), as sorted inclusive page ranges.
pub fn resident_ranges(f: &File, size: u64) -> std::io::Result<Vec<(u64, u64)>> {
    if size == 0 {
        return Ok(Vec::new());
    }
    let pages = size.div_ceil(4096) as usize;
    // SAFETY: a read-only shared mapping of the file; mincore fills one byte per page; unmapped before return.
    unsafe {
        let p = libc::mmap(std::ptr::null_mut(), size as usize, libc::PROT_READ, libc::MAP_SHARED, f.as_raw_fd(), 0);
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let mut vec = vec![0u8; pages];
        let r = libc::mincore(p, size as usize, vec.as_mut_ptr());
        let e = std::io::Error::last_os_error();
        libc::munmap(p, size as usize);
        if r != 0 {
            return Err(e);
        }
        Ok(ranges(vec.iter().map(|b| b & 1 == 1)))
    }
}

/// Inclusive ranges of the true positions.
pub fn ranges(bits: impl Iterator<Item = bool>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (i, b) in bits.enumerate() {
        if !b {
            continue;
        }
        let i = i as u64;
        match out.last_mut() {
            Some((_, e)) if *e + 1 == i => *e = i,
            _ => out.push((i, i)),
        }
    }
    out
}

pub use crate::trace::residency::format_ranges;

/// /proc/vmstat as name -> value, in file order.
pub fn vmstat() -> Vec<(String, i64)> {
    host::read("/proc/vmstat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// after - before for every counter present in both.
pub fn vmstat_delta(before: &[(String, i64)], after: &[(String, i64)]) -> Vec<(String, i64)> {
    let b: BTreeMap<&str, i64> = before.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    after.iter().filter_map(|(k, v)| b.get(k.as_str()).map(|bv| (k.clone(), v - bv))).collect()
}

/// One extent from FIEMAP (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Extent {
    pub logical: u64,
    pub physical: u64,
    pub length: u64,
    pub flags: u32,
}

const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
const FIEMAP_EXTENT_LAST: u32 = 0x1;
const FIEMAP_FLAG_SYNC: u32 = 0x1;

/// The file's extent map (FS_IOC_FIEMAP, synced first so delayed allocations have blocks).
pub fn fiemap(f: &File) -> std::io::Result<Vec<Extent>> {
    const BATCH: usize = 256;
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct FiemapExtent {
        fe_logical: u64,
        fe_physical: u64,
        fe_length: u64,
        fe_reserved64: [u64; 2],
        fe_flags: u32,
        fe_reserved: [u32; 3],
    }
    #[repr(C)]
    struct Fiemap {
        fm_start: u64,
        fm_length: u64,
        fm_flags: u32,
        fm_mapped_extents: u32,
        fm_extent_count: u32,
        fm_reserved: u32,
        fm_extents: [FiemapExtent; BATCH],
    }
    let mut out = Vec::new();
    let mut start = 0u64;
    loop {
        // SAFETY: zeroed plain structs; the ioctl fills at most fm_extent_count extents.
        let mut fm: Box<Fiemap> = Box::new(unsafe { std::mem::zeroed() });
        fm.fm_start = start;
        fm.fm_length = u64::MAX - start;
        fm.fm_flags = FIEMAP_FLAG_SYNC;
        fm.fm_extent_count = BATCH as u32;
        let r = unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_FIEMAP, &mut *fm as *mut Fiemap) };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = fm.fm_mapped_extents as usize;
        if n == 0 {
            return Ok(out);
        }
        let mut last = false;
        for e in &fm.fm_extents[..n] {
            out.push(Extent { logical: e.fe_logical, physical: e.fe_physical, length: e.fe_length, flags: e.fe_flags });
            last |= e.fe_flags & FIEMAP_EXTENT_LAST != 0;
            start = e.fe_logical + e.fe_length;
        }
        if last {
            return Ok(out);
        }
    }
}

/// Another reclaimer active on the host during the run.
#[derive(Clone, Debug, Serialize)]
pub struct Reclaimer {
    pub name: String,
    pub state: String,
    pub detail: String,
}

/// kswapd threads and DAMON kdamonds (with their schemes' actions), read-only.
pub fn reclaimers() -> Vec<Reclaimer> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        let mut found: Vec<(String, String)> = rd
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_string_lossy().into_owned();
                pid.parse::<u32>().ok()?;
                let comm = std::fs::read_to_string(e.path().join("comm")).ok()?.trim().to_string();
                (comm.starts_with("kswapd") || comm.starts_with("kdamond")).then_some((comm, pid))
            })
            .collect();
        found.sort();
        for (comm, _pid) in found {
            if comm.starts_with("kswapd") {
                out.push(Reclaimer { name: comm, state: "running".into(), detail: "classic LRU reclaim".into() });
            }
        }
    }
    let admin = Path::new("/sys/kernel/mm/damon/admin/kdamonds");
    if let Ok(rd) = std::fs::read_dir(admin) {
        let mut dirs: Vec<_> = rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs {
            let state = host::read_trim(d.join("state")).unwrap_or_default();
            let mut actions = Vec::new();
            if let Ok(ctxs) = std::fs::read_dir(d.join("contexts")) {
                for c in ctxs.flatten().filter(|c| c.path().is_dir()) {
                    let ops = host::read_trim(c.path().join("operations")).unwrap_or_default();
                    if let Ok(schemes) = std::fs::read_dir(c.path().join("schemes")) {
                        for s in schemes.flatten().filter(|s| s.path().is_dir()) {
                            let a = host::read_trim(s.path().join("action")).unwrap_or_default();
                            actions.push(format!("{ops}:{a}"));
                        }
                    }
                }
            }
            actions.sort();
            let name = format!("kdamond.{}", d.file_name().unwrap().to_string_lossy());
            out.push(Reclaimer { name, state, detail: format!("schemes [{}]", actions.join(", ")) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_format() {
        let r = ranges([true, true, false, true, false, false, true, true, true].into_iter());
        assert_eq!(r, vec![(0, 1), (3, 3), (6, 8)]);
        assert_eq!(format_ranges(&r), "0-1,3,6-8");
        assert_eq!(format_ranges(&[]), "-");
    }

    #[test]
    fn cachestat_and_mincore_agree_on_a_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![1u8; 64 * 1024]).unwrap();
        let f = File::open(&p).unwrap();
        let r = resident_ranges(&f, 64 * 1024).unwrap();
        let pages: u64 = r.iter().map(|(a, b)| b - a + 1).sum();
        if let Some(cs) = cachestat(&f) {
            assert_eq!(cs.nr_cache, pages, "cachestat {cs:?} vs mincore {r:?}");
        }
        assert!(pages <= 16);
    }

    #[test]
    fn vmstat_delta_subtracts() {
        let a = vec![("x".to_string(), 5), ("y".to_string(), 1)];
        let b = vec![("x".to_string(), 9), ("z".to_string(), 1)];
        assert_eq!(vmstat_delta(&a, &b), vec![("x".to_string(), 4)]);
    }
}
