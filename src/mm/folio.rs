//! Folios (include/linux/mm_types.h, page-flags.h), kept in a slab addressed by compact ids.
//!
//! A folio is 2^order pages of one file starting at an index aligned to its size. Only the flags the model uses are
//! kept. A folio under read I/O carries PG_locked and its completion time sits in the slab's side table: before that
//! time it is locked and not uptodate, from then on uptodate and unlocked (a read never fails: DIVERGENCE, marked at
//! `uptodate`). Keeping the time out of the folio makes it 16 bytes; finished entries are swept from the table in
//! batches (`FolioSlab::reap`).

use crate::units::Nanos;

/// PAGEVEC_SIZE: folios per batch.
pub const FOLIO_BATCH: usize = 31;

/// Index of a folio in the slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FolioId(pub u32);

pub const PG_READAHEAD: u8 = 1 << 0;
pub const PG_REFERENCED: u8 = 1 << 1;
pub const PG_ACTIVE: u8 = 1 << 2;
pub const PG_DIRTY: u8 = 1 << 3;
pub const PG_WRITEBACK: u8 = 1 << 4;
pub const PG_WORKINGSET: u8 = 1 << 5;
/// Read I/O pending: the completion time is in the slab's side table.
pub const PG_LOCKED: u8 = 1 << 6;
/// Model bookkeeping, not a kernel flag: the folio was read from the device during the run (for the
/// "readahead never used" statistic).
pub const PCSIM_READ_IN: u8 = 1 << 7;

/// No folio (an LRU list end).
pub const NIL: u32 = u32::MAX;

/// One folio: 16 bytes, LRU links included. Page indices fit 32 bits (files are at most 16 TiB) and file ids 16
/// bits (scenarios have at most 65535 files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folio {
    idx: u32,
    file: u16,
    pub order: u8,
    pub flags: u8,
    /// LRU list neighbours (folio ids, NIL at the ends): struct folio's `lru` list_head.
    pub(crate) lru_prev: u32,
    pub(crate) lru_next: u32,
}

impl Folio {
    /// A folio of 2^order pages of `file` from page `index`, not on any LRU list.
    pub fn new(index: u64, order: u8, file: u32, flags: u8) -> Folio {
        assert!(index <= u32::MAX as u64, "invariant: page index {index} beyond 16 TiB");
        assert!(file <= u16::MAX as u32, "invariant: file id {file} beyond 65535");
        Folio { idx: index as u32, file: file as u16, order, flags, lru_prev: NIL, lru_next: NIL }
    }
    /// Page index of the first page in the file.
    #[inline]
    pub fn index(&self) -> u64 {
        self.idx as u64
    }
    /// The file (scenario file id).
    #[inline]
    pub fn file(&self) -> u32 {
        self.file as u32
    }
    pub fn nr_pages(&self) -> u64 {
        1 << self.order
    }
    /// The index after the folio's last page (folio_next_index).
    pub fn next_index(&self) -> u64 {
        self.index() + self.nr_pages()
    }
    pub fn test(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The folio slab with a free list.
/// A folio's pending I/O: when it completes, and who submitted it, woken later than the other waiters.
#[derive(Clone, Copy, Debug)]
struct Io {
    at: Nanos,
    /// The submitting task + 1 (0: none recorded).
    submitter: u32,
    /// How much later than `at` the submitter runs again.
    submitter_delay: u32,
}

impl Io {
    fn at(at: Nanos) -> Self {
        Io { at, submitter: 0, submitter_delay: 0 }
    }
}

#[derive(Clone, Debug, Default)]
pub struct FolioSlab {
    folios: Vec<Folio>,
    free: Vec<u32>,
    live: u64,
    /// Completion times of folios with PG_locked (looked up only, never iterated into output).
    io: hashbrown::HashMap<u32, Io>,
    /// Table size after the last sweep.
    swept: usize,
    /// Folios that are neither locked nor uptodate: a write filled some of their filesystem blocks only
    /// (buffer heads without BH_Uptodate). One bit per block, set when the block holds valid data.
    partial: hashbrown::HashMap<u32, Vec<u64>>,
}

impl FolioSlab {
    /// Model: brings folio `id` into the CPU cache ahead of its use (no effect on the slab).
    #[inline]
    pub fn prefetch(&self, id: FolioId) {
        if let Some(f) = self.folios.get(id.0 as usize) {
            super::prefetch::prefetch(f);
        }
    }

    pub fn alloc(&mut self, f: Folio) -> FolioId {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            self.folios[i as usize] = f;
            FolioId(i)
        } else {
            self.folios.push(f);
            FolioId(self.folios.len() as u32 - 1)
        }
    }

    /// Model: room for `n` more folios without growing the table (a set-up that knows its size).
    pub fn reserve(&mut self, n: u64) {
        self.folios.reserve_exact(n as usize);
    }

    /// Freed ids waiting for reuse.
    pub fn free_ids(&self) -> usize {
        self.free.len()
    }

    /// Model: allocates `n` folios made by `make(k)` for k in 0..n, with consecutive ids, as `n` calls of `alloc`
    /// would on a slab with no free ids (the set-up of a cached file). Returns the first id, or `None` (nothing
    /// allocated) when freed ids would be reused.
    pub fn alloc_run(&mut self, n: u64, make: impl Fn(u64) -> Folio) -> Option<FolioId> {
        if !self.free.is_empty() {
            return None;
        }
        let first = self.folios.len() as u64;
        self.folios.reserve(n as usize);
        self.folios.extend((0..n).map(make));
        self.live += n;
        Some(FolioId(first as u32))
    }

    pub fn free(&mut self, id: FolioId) {
        self.live -= 1;
        self.io.remove(&id.0);
        if !self.partial.is_empty() {
            self.partial.remove(&id.0);
        }
        self.free.push(id.0);
    }

    /// The valid-block bitmap of a partially uptodate folio.
    pub fn partial_blocks(&self, id: FolioId) -> Option<&Vec<u64>> {
        if self.partial.is_empty() {
            None
        } else {
            self.partial.get(&id.0)
        }
    }

    /// Records which of the folio's `nr_blocks` blocks are valid; all valid makes it uptodate.
    pub fn set_partial(&mut self, id: FolioId, valid: Vec<u64>, nr_blocks: u64) {
        let all = (0..nr_blocks).all(|b| valid[(b / 64) as usize] & (1 << (b % 64)) != 0);
        if all {
            self.partial.remove(&id.0);
        } else {
            self.partial.insert(id.0, valid);
        }
    }

    /// When the folio's read completes (0 when no read is pending).
    #[inline(always)]
    pub fn ready_at(&self, id: FolioId) -> Nanos {
        if self.get(id).test(PG_LOCKED) {
            self.io.get(&id.0).map_or(Nanos(0), |io| io.at)
        } else {
            Nanos(0)
        }
    }

    /// PG_uptodate at `now`.
    #[inline(always)]
    pub fn uptodate(&self, id: FolioId, now: Nanos) -> bool {
        // DIVERGENCE: a read always succeeds: the folio is uptodate once its read completes (no read error leaving it
        // !uptodate).
        self.ready_at(id) <= now && (self.partial.is_empty() || !self.partial.contains_key(&id.0))
    }

    /// Puts the folio under read I/O completing at `at`.
    pub fn set_ready_at(&mut self, id: FolioId, at: Nanos) {
        self.get_mut(id).flags |= PG_LOCKED | PCSIM_READ_IN;
        self.io.insert(id.0, Io::at(at));
    }

    /// Puts the folio under read I/O completing at `at`, submitted by `task`, which runs `delay_ns` after the
    /// completion when it sleeps on the folio (the completion's work runs on its CPU first).
    pub fn set_read_in_flight(&mut self, id: FolioId, at: Nanos, task: usize, delay_ns: u64) {
        self.get_mut(id).flags |= PG_LOCKED | PCSIM_READ_IN;
        let io = Io { at, submitter: task as u32 + 1, submitter_delay: delay_ns.min(u32::MAX as u64) as u32 };
        self.io.insert(id.0, io);
    }

    /// When `task`, asleep on the folio's pending read, runs again: at the completion, later for its submitter.
    #[inline]
    pub fn wake_at(&self, id: FolioId, task: usize) -> Nanos {
        if !self.get(id).test(PG_LOCKED) {
            return Nanos(0);
        }
        match self.io.get(&id.0) {
            Some(io) if io.submitter == task as u32 + 1 => Nanos(io.at.0 + io.submitter_delay as u64),
            Some(io) => io.at,
            None => Nanos(0),
        }
    }

    /// Locks the folio until `at` for I/O on part of it (reads of some of its blocks): not uptodate meanwhile,
    /// without counting as brought in by a read (PCSIM_READ_IN).
    pub fn lock_until(&mut self, id: FolioId, at: Nanos) {
        self.get_mut(id).flags |= PG_LOCKED;
        self.io.insert(id.0, Io::at(at));
    }

    /// A new folio that needs no read (write_begin over a hole or a full overwrite): unlocked and uptodate now.
    pub fn set_uptodate_now(&mut self, id: FolioId) {
        self.get_mut(id).flags &= !(PG_LOCKED | PCSIM_READ_IN);
        self.io.remove(&id.0);
    }

    /// Forgets completed reads (clearing PG_locked) once the table has doubled since the last sweep.
    #[inline]
    pub fn reap(&mut self, now: Nanos) {
        if self.io.len() < 4096 || self.io.len() < 2 * self.swept {
            return;
        }
        self.sweep(now);
    }

    fn sweep(&mut self, now: Nanos) {
        let done: Vec<u32> = self.io.iter().filter(|(_, io)| io.at <= now).map(|(id, _)| *id).collect();
        for id in done {
            self.io.remove(&id);
            self.folios[id as usize].flags &= !PG_LOCKED;
        }
        self.swept = self.io.len();
    }

    pub fn get(&self, id: FolioId) -> &Folio {
        &self.folios[id.0 as usize]
    }

    pub fn get_mut(&mut self, id: FolioId) -> &mut Folio {
        &mut self.folios[id.0 as usize]
    }

    /// Folios allocated and not freed.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// Bytes the slab holds (for the memory-per-folio benchmark).
    pub fn bytes(&self) -> usize {
        self.folios.capacity() * std::mem::size_of::<Folio>()
            + self.free.capacity() * 4
            + self.io.capacity() * (4 + std::mem::size_of::<Io>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folio_is_compact() {
        assert_eq!(std::mem::size_of::<Folio>(), 16);
    }

    #[test]
    fn pending_reads_complete_and_are_reaped() {
        let mut s = FolioSlab::default();
        let id = s.alloc(Folio::new(0, 0, 0, 0));
        assert!(s.uptodate(id, Nanos(0)));
        s.set_ready_at(id, Nanos(100));
        assert!(!s.uptodate(id, Nanos(99)) && s.uptodate(id, Nanos(100)));
        for i in 1..5000u64 {
            let x = s.alloc(Folio::new(i, 0, 0, 0));
            s.set_ready_at(x, Nanos(i));
        }
        s.reap(Nanos(10_000));
        assert!(!s.get(id).test(PG_LOCKED) && s.uptodate(id, Nanos(0)));
    }

    #[test]
    fn slab_reuses_freed_ids() {
        let mut s = FolioSlab::default();
        let a = s.alloc(Folio::new(0, 0, 0, 0));
        let b = s.alloc(Folio::new(1, 0, 0, 0));
        s.free(a);
        let c = s.alloc(Folio::new(2, 0, 0, 0));
        assert_eq!(c, a);
        assert_eq!(s.get(b).index(), 1);
        assert_eq!(s.live(), 2);
    }
}
