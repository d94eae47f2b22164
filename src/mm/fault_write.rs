//! Writes through shared file mappings (mm/memory.c: do_shared_fault, wp_page_shared, do_page_mkwrite,
//! fault_dirty_shared_page; fs/ext4/inode.c: ext4_page_mkwrite) and msync (mm/msync.c).
//!
//! A write to a page of a MAP_SHARED writable mapping: when the PTE is writable, nothing (the hardware sets its dirty
//! bit); when the page is mapped read-only (read faults and fault-around map read-only in such a mapping, and
//! writeback write-protects it again: folio_mkclean), a write-protect fault; when it is not mapped, a shared fault
//! (filemap_fault, no fault-around), which maps the whole folio writable. Both run page_mkwrite: ext4 updates the file times, dirties the folio
//! (block_page_mkwrite -> folio_mark_dirty: writeback_dirty_folio), and the fault ends with
//! balance_dirty_pages_ratelimited (fault_dirty_shared_page), which may sleep.
//!
//! Simplifications, each marked DIVERGENCE at its line: ext4's delalloc block reservation and the folio_wait_stable
//! of a folio under writeback (the scratch loop device needs no stable pages) are not modelled; MAP_PRIVATE writable
//! mappings (copy-on-write into anonymous memory) are refused (mm/mmap.rs).

use crate::fs::file::OpenFile;
use crate::fs::sync::FsyncCont;
use crate::kernel::{Blocked, Kernel};
use crate::mm::fault::FaultState;
use crate::mm::fault::Vma;

/// What a write access did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFault {
    /// The page was mapped writable: no fault.
    None,
    /// A write fault dirtied the folio: fault_dirty_shared_page calls balance_dirty_pages_ratelimited next.
    Dirtied,
    /// SIGBUS: beyond the end of the file.
    Sigbus,
}

impl Kernel {
    /// handle_pte_fault's write side for a shared mapping: nothing when the PTE is writable, else wp_page_shared (mapped
    /// read-only) or do_shared_fault (not mapped), for file page `page` through `vma`. False on SIGBUS.
    pub fn handle_write_access(
        &mut self,
        of: &mut OpenFile,
        vma: &mut Vma,
        page: u64,
        st: &mut FaultState,
    ) -> Result<WriteFault, Blocked> {
        let off = page - vma.pgoff;
        if *st == FaultState::New {
            let p = &self.ptes[vma.pte];
            if p.is_mapped(off) && p.is_writable(off) {
                self.ptes[vma.pte].touch(off);
                return Ok(WriteFault::None);
            }
            self.vm.pgfault += 1;
        }
        // A fault resumed after a sleep is the read part of do_shared_fault: the page is still missing.
        let missing = *st != FaultState::New || !self.ptes[vma.pte].is_mapped(off);
        if missing && !self.do_fault(of, vma, page, false, st)? {
            return Ok(WriteFault::Sigbus);
        }
        let file = of.file;
        if !self.page_mkwrite(file, page) {
            return Ok(WriteFault::Sigbus);
        }
        if missing {
            // finish_fault maps the whole folio (inside the mapping and i_size), writable: on the host a shared
            // write fault comes once per folio (traces/write/mmap_write: 552 filemap faults for 24576 page writes,
            // at the folios' first pages).
            let id = self.inodes[file as usize].mapping.lookup(&self.folios, page).expect("the fault left it cached");
            let f = *self.folios.get(id);
            let eof = self.inodes[file as usize].size.div_ceil(4096);
            let lo = f.index().max(vma.pgoff);
            let hi = f.next_index().min(vma.pgoff + vma.pages).min(eof);
            for p in lo..hi {
                self.ptes[vma.pte].map(p - vma.pgoff);
                self.ptes[vma.pte].make_writable(p - vma.pgoff);
            }
        } else {
            // wp_page_shared -> wp_page_reuse: this PTE only.
            self.ptes[vma.pte].make_writable(off);
        }
        // fault_dirty_shared_page's balance_dirty_pages_ratelimited is the caller's (it may sleep).
        Ok(WriteFault::Dirtied)
    }

    /// ext4_page_mkwrite -> block_page_mkwrite for file page `page` (uptodate and cached after the fault): file times,
    /// then the folio dirtied. False when the page is beyond the end of the file (VM_FAULT_SIGBUS).
    pub fn page_mkwrite(&mut self, file: u32, page: u64) -> bool {
        if page >= self.inodes[file as usize].size.div_ceil(4096) {
            return false;
        }
        self.file_update_time(file);
        // DIVERGENCE: no delalloc block reservation (ext4_da_get_block_prep, ENOSPC) and no folio_wait_stable for a
        // folio under writeback: the folio is dirtied at once.
        let Some(id) = self.inodes[file as usize].mapping.lookup(&self.folios, page) else { return false };
        self.folio_mark_dirty(file, id);
        true
    }

    /// sys_msync's writeback for [off, off+len) of a mapping of `file` from file page `pgoff`: MS_SYNC writes and
    /// waits the range (vfs_fsync_range); MS_ASYNC and MS_INVALIDATE do nothing on this kernel.
    pub fn msync(&mut self, file: u32, pgoff: u64, off: u64, len: u64, sync: bool) -> Option<FsyncCont> {
        if sync && len > 0 {
            let start = pgoff * 4096 + off;
            return Some(self.fsync_start(file, start, start + len - 1));
        }
        None
    }
}
