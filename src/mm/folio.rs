//! Folios (include/linux/mm_types.h, page-flags.h), kept in a slab addressed by compact ids.
//!
//! A folio is 2^order pages of one file starting at an index aligned to its size. Only the flags the model uses are
//! kept. `PG_uptodate` and `PG_locked` are derived from `ready_at`, the virtual time its read completes: before it
//! the folio is locked and not uptodate, from it on it is uptodate and unlocked (DIVERGENCE: a read error path is
//! not modelled).

use crate::units::Nanos;

/// Index of a folio in the slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FolioId(pub u32);

pub const PG_READAHEAD: u8 = 1 << 0;
pub const PG_REFERENCED: u8 = 1 << 1;
pub const PG_ACTIVE: u8 = 1 << 2;
pub const PG_DIRTY: u8 = 1 << 3;
pub const PG_WRITEBACK: u8 = 1 << 4;
pub const PG_WORKINGSET: u8 = 1 << 5;

/// One folio: 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folio {
    /// Page index of the first page in the file.
    pub index: u64,
    /// When its read completes (uptodate from then on).
    pub ready_at: Nanos,
    /// The file (scenario file id).
    pub file: u32,
    pub order: u8,
    pub flags: u8,
}

impl Folio {
    pub fn nr_pages(&self) -> u64 {
        1 << self.order
    }
    /// The index after the folio's last page (folio_next_index).
    pub fn next_index(&self) -> u64 {
        self.index + self.nr_pages()
    }
    pub fn test(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
    pub fn uptodate(&self, now: Nanos) -> bool {
        self.ready_at <= now
    }
}

/// The folio slab with a free list.
#[derive(Clone, Debug, Default)]
pub struct FolioSlab {
    folios: Vec<Folio>,
    free: Vec<u32>,
    live: u64,
}

impl FolioSlab {
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

    pub fn free(&mut self, id: FolioId) {
        self.live -= 1;
        self.free.push(id.0);
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
        self.folios.capacity() * std::mem::size_of::<Folio>() + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folio_is_compact() {
        assert_eq!(std::mem::size_of::<Folio>(), 24);
    }

    #[test]
    fn slab_reuses_freed_ids() {
        let mut s = FolioSlab::default();
        let f = Folio { index: 0, ready_at: Nanos(0), file: 0, order: 0, flags: 0 };
        let a = s.alloc(f);
        let b = s.alloc(Folio { index: 1, ..f });
        s.free(a);
        let c = s.alloc(Folio { index: 2, ..f });
        assert_eq!(c, a);
        assert_eq!(s.get(b).index, 1);
        assert_eq!(s.live(), 2);
    }
}
