//! mm/madvise.c and mm/msync.c (6.18): madvise(2) and msync(2) over a range of a file mapping.

use crate::fs::file::Files;
use crate::kernel::{Kernel, SyscallError};
use crate::trace::op::{Fadvice, Madvice, MapId, MsyncMode};

use super::memory::AccessCont;
use super::mmap::Mm;
use crate::fs::sync::FsyncCont;

impl Kernel {
    /// do_madvise over [off, off+len) of mapping `map` (len 0: to its end): the VMA's read-ahead hints
    /// (VM_SEQ_READ, VM_RAND_READ) and VM_HUGEPAGE, MADV_DONTNEED's zap, MADV_WILLNEED's readahead
    /// (madvise_willneed -> vfs_fadvise), MADV_POPULATE_READ's faults. ENOMEM when there is no such mapping.
    pub fn do_madvise(
        &mut self,
        files: &mut Files,
        mm: &mut Mm,
        map: MapId,
        off: u64,
        len: u64,
        advice: Madvice,
    ) -> Result<i64, SyscallError> {
        let Some(vma) = mm.vma_mut(map) else { return Ok(-(libc::ENOMEM as i64)) };
        let len = if len == 0 { (vma.pages * 4096).saturating_sub(off) } else { len };
        match advice {
            Madvice::Normal => (vma.seq, vma.rand) = (false, false),
            Madvice::Sequential => (vma.seq, vma.rand) = (true, false),
            Madvice::Random => (vma.seq, vma.rand) = (false, true),
            Madvice::HugePage => vma.huge = true,
            Madvice::NoHugePage => vma.huge = false,
            Madvice::DontNeed => self.ptes[vma.pte].zap(off >> 12, len.div_ceil(4096)),
            Madvice::WillNeed => {
                // madvise_willneed: vfs_fadvise(WILLNEED) over the file range behind the mapping.
                let file_off = (vma.pgoff << 12) + off;
                let of = &mut files.files[vma.of].of;
                let ra_pages = self.ra_pages[self.inodes[of.file as usize].device];
                return Ok(self.generic_fadvise(of, ra_pages, file_off, len, Fadvice::WillNeed));
            }
            // The syscall table starts MADV_POPULATE_READ as accesses (madvise_populate_start): they may sleep.
            Madvice::PopulateRead => unreachable!("MADV_POPULATE_READ runs as accesses"),
            // DIVERGENCE: refused: MADV_COLD (folio_deactivate) and MADV_PAGEOUT (reclaim_pages) are not modelled.
            Madvice::Cold | Madvice::PageOut => return Err(SyscallError::NotModelled("madvise (cold/pageout)")),
        }
        Ok(0)
    }

    /// madvise_populate for MADV_POPULATE_READ: read accesses to every page of [off, off+len) of mapping `map` (len
    /// 0: to its end), faulting them in; returns 0 when done. `Err(r)`: ENOMEM for no such mapping, or the
    /// accesses' error at once.
    pub fn madvise_populate_start(&mut self, mm: &mut Mm, map: MapId, off: u64, len: u64) -> Result<AccessCont, i64> {
        let Some(vma) = mm.vma_mut(map) else { return Err(-(libc::ENOMEM as i64)) };
        let len = if len == 0 { (vma.pages * 4096).saturating_sub(off) } else { len };
        self.access_start(mm, map, off, len, false).map_err(|r| r.min(0))
    }

    /// sys_msync (msync(2)) over [off, off+len) of mapping `map` (len 0: to its end, as the probe issues it): ENOMEM
    /// without such a mapping or past its end, EINVAL for an unaligned start (`Err`); MS_SYNC writes the range back
    /// and waits: the fsync to run (`Ok(None)`: nothing to wait for).
    pub fn ksys_msync_start(
        &mut self,
        files: &Files,
        mm: &Mm,
        map: MapId,
        off: u64,
        len: u64,
        mode: MsyncMode,
    ) -> Result<Option<FsyncCont>, i64> {
        let Some(vma) = mm.vma(map) else { return Err(-(libc::ENOMEM as i64)) };
        if off % 4096 != 0 {
            return Err(-(libc::EINVAL as i64));
        }
        if off.saturating_add(len) > vma.pages * 4096 {
            return Err(-(libc::ENOMEM as i64));
        }
        let (file, pgoff) = (files.files[vma.of].of.file, vma.pgoff);
        let len = if len == 0 { vma.pages * 4096 - off } else { len };
        Ok(self.msync(file, pgoff, off, len, matches!(mode, MsyncMode::Sync)))
    }
}
