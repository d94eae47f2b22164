//! mm/memory.c's entry for user accesses: a task touching pages of a mapping, each access to a page that is not
//! mapped (or, for a write, not writable) taking a fault (handle_mm_fault -> do_read_fault / do_shared_fault).

use crate::fs::file::Files;
use crate::kernel::Kernel;
use crate::trace::op::MapId;

use super::mmap::Mm;

const EFAULT: i64 = -(libc::EFAULT as i64);

impl Kernel {
    /// Model: the task's loads (or stores) to each page of [off, off+len) of mapping `map`, in order, each faulting
    /// as the MMU would (handle_read_access, handle_write_access); the bytes touched, or -EFAULT for no such mapping, a write to a read-only one (SIGSEGV) or a page past the end of the file
    /// (SIGBUS).
    pub fn access_mapping(
        &mut self,
        files: &mut Files,
        mm: &mut Mm,
        map: MapId,
        off: u64,
        len: u64,
        write: bool,
    ) -> i64 {
        let Some(vma) = mm.vma_mut(map) else { return EFAULT };
        if write && !vma.shared_write {
            return EFAULT;
        }
        let end = (off + len.max(1)).min(vma.pages * 4096);
        if off >= end {
            return EFAULT;
        }
        let of = &mut files.files[vma.of].of;
        let mut page = off >> 12;
        while page * 4096 < end {
            let ok = if write {
                self.handle_write_access(of, vma, vma.pgoff + page)
            } else {
                self.handle_read_access(of, vma, vma.pgoff + page)
            };
            if !ok {
                return EFAULT;
            }
            page += 1;
        }
        (end - off) as i64
    }
}
