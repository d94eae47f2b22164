//! mm/memory.c's entry for user accesses: a task touching pages of a mapping, each access to a page that is not
//! mapped (or, for a write, not writable) taking a fault (handle_mm_fault -> do_read_fault / do_shared_fault). A
//! fault sleeps on a folio under I/O, and a write fault's fault_dirty_shared_page sleeps in balance_dirty_pages;
//! the access resumes at the page where it slept.

use crate::fs::file::Files;
use crate::kernel::{Blocked, Kernel, Poll};
use crate::mm::page_writeback::throttle::BdpCall;
use crate::trace::op::MapId;
use crate::units::Nanos;

use super::fault::FaultState;
use super::fault_write::WriteFault;
use super::mmap::Mm;

const EFAULT: i64 = -(libc::EFAULT as i64);

/// A task's accesses to a range of a mapping between their sleeps.
#[derive(Clone, Copy, Debug)]
pub struct AccessCont {
    map: MapId,
    /// The range's start and end in the mapping, bytes.
    off: u64,
    end: u64,
    /// The page (in the mapping) being accessed.
    page: u64,
    write: bool,
    fault: FaultState,
    /// Asleep in balance_dirty_pages after this page's write fault: Some(call) for another pass of that call, None for
    /// the next page.
    bdp: Option<Option<BdpCall>>,
}

impl Kernel {
    /// Model: the task's loads (or stores) to each page of [off, off+len) of mapping `map`, in order, each faulting
    /// as the MMU would (handle_read_access, handle_write_access). `Err(r)`: the call returns `r` at once (-EFAULT
    /// for no such mapping or a write to a read-only one: SIGSEGV).
    pub fn access_start(
        &mut self,
        mm: &mut Mm,
        map: MapId,
        off: u64,
        len: u64,
        write: bool,
    ) -> Result<AccessCont, i64> {
        let Some(vma) = mm.vma_mut(map) else { return Err(EFAULT) };
        if write && !vma.shared_write {
            return Err(EFAULT);
        }
        let end = (off + len.max(1)).min(vma.pages * 4096);
        if off >= end {
            return Err(EFAULT);
        }
        Ok(AccessCont { map, off, end, page: off >> 12, write, fault: FaultState::New, bdp: None })
    }

    /// Model: runs the accesses until they end or sleep: Done with the bytes touched, or -EFAULT at a page past the end of
    /// the file (SIGBUS).
    pub fn access_run(&mut self, files: &mut Files, mm: &mut Mm, a: &mut AccessCont) -> Poll {
        let Some(vma) = mm.vma_mut(a.map) else { return Poll::Done(EFAULT) };
        let of = &mut files.files[vma.of].of;
        while a.page * 4096 < a.end {
            if a.fault == FaultState::New && a.bdp.is_none() && self.need_resched() {
                // Between pages: others due meanwhile run first.
                return Poll::Sleep(self.now);
            }
            if let Some(again) = a.bdp.take() {
                // fault_dirty_shared_page: another pass of balance_dirty_pages after a pause with a rate of 0.
                if let Some(call) = again {
                    if let Some((pause, again)) = self.balance_dirty_pages_ratelimited(of.file, Some(call)) {
                        a.bdp = Some(again);
                        return Poll::Sleep(Nanos(self.now.0 + pause));
                    }
                }
                a.page += 1;
                continue;
            }
            let file_page = vma.pgoff + a.page;
            let r = if a.write {
                self.handle_write_access(of, vma, file_page, &mut a.fault)
            } else {
                self.handle_read_access(of, vma, file_page, &mut a.fault).map(|ok| {
                    if ok {
                        WriteFault::None
                    } else {
                        WriteFault::Sigbus
                    }
                })
            };
            match r {
                Err(Blocked(until)) => return Poll::Sleep(until),
                Ok(WriteFault::Sigbus) => return Poll::Done(EFAULT),
                Ok(WriteFault::None) => {}
                Ok(WriteFault::Dirtied) => {
                    if let Some((pause, again)) = self.balance_dirty_pages_ratelimited(of.file, None) {
                        a.bdp = Some(again);
                        return Poll::Sleep(Nanos(self.now.0 + pause));
                    }
                }
            }
            a.page += 1;
        }
        Poll::Done((a.end - a.off) as i64)
    }
}
