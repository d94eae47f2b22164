//! mm/mmap.c (6.18): a task's file mappings (its mm's VMAs) and mmap(2) / munmap(2) of whole mappings.

use crate::fs::file::Files;
use crate::kernel::{Kernel, SyscallError};
use crate::mm::fault::Vma;
use crate::trace::op::{Fd, MapId};

/// A task's mappings (its mm_struct's VMAs), by the scenario's mapping slot (`MapId`).
#[derive(Clone, Debug, Default)]
pub struct Mm {
    maps: Vec<Option<Vma>>,
}

impl Mm {
    /// find_vma for the mapping in slot `map`.
    pub fn vma(&self, map: MapId) -> Option<&Vma> {
        self.maps.get(map.0 as usize).and_then(|m| m.as_ref())
    }

    /// The mapping in slot `map`, to change its flags.
    pub fn vma_mut(&mut self, map: MapId) -> Option<&mut Vma> {
        self.maps.get_mut(map.0 as usize).and_then(|m| m.as_mut())
    }
}

/// An mmap(2) request.
#[derive(Clone, Copy, Debug)]
pub struct MmapArgs {
    pub fd: Fd,
    pub map: MapId,
    pub off: u64,
    pub len: u64,
    pub write: bool,
    pub shared: bool,
}

impl Kernel {
    /// do_mmap of a file into slot `map` (a mapping already there is unmapped first): EBADF, EINVAL for an
    /// unaligned offset or an empty length, EACCES unless the descriptor allows the protection; generic_file_mmap
    /// then updates the file's atime (file_accessed).
    pub fn do_mmap(&mut self, files: &Files, mm: &mut Mm, a: MmapArgs) -> Result<i64, SyscallError> {
        let Some(i) = files.index(a.fd) else { return Ok(-(libc::EBADF as i64)) };
        if a.write && !a.shared {
            // DIVERGENCE: refused: a private writable mapping's writes are copy-on-write into anonymous memory, which
            // the model does not have.
            return Err(SyscallError::NotModelled("mmap (private, writable)"));
        }
        if a.off % 4096 != 0 || a.len == 0 {
            return Ok(-(libc::EINVAL as i64));
        }
        // A shared writable mapping needs a descriptor open for writing too.
        if !files.files[i].readable || (a.write && !files.files[i].writable) {
            return Ok(-(libc::EACCES as i64));
        }
        let slot = a.map.0 as usize;
        if mm.maps.len() <= slot {
            mm.maps.resize_with(slot + 1, || None);
        }
        if let Some(old) = mm.maps[slot].take() {
            // DIVERGENCE: dropped like vm_munmap's, young bits and all.
            self.ptes[old.pte] = Default::default();
        }
        let file = files.files[i].of.file;
        let mut vma = Vma::new(self, i, file, a.off >> 12, a.len.div_ceil(4096));
        vma.shared_write = a.write && a.shared;
        mm.maps[slot] = Some(vma);
        self.touch_atime(file);
        Ok(0)
    }

    /// vm_munmap of the whole mapping in slot `map` (its page tables go); EINVAL when there is none.
    pub fn vm_munmap(&mut self, mm: &mut Mm, map: MapId) -> i64 {
        match mm.maps.get_mut(map.0 as usize).and_then(|m| m.take()) {
            Some(vma) => {
                // DIVERGENCE: the page tables go without zap_pte_range's folio_mark_accessed of young PTEs
                // (pgtable.rs).
                self.ptes[vma.pte] = Default::default();
                0
            }
            None => -(libc::EINVAL as i64),
        }
    }
}
