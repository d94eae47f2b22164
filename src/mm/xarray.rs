//! The page index of an address space (the kernel's xarray, lib/xarray.c, in the shape the page cache uses it):
//! page index -> folio id in O(1), with ordered walks.
//!
//! Two levels, like the xarray's two lowest: one `u32` per 64-page block, which is empty, holds a folio of order 6
//! or more covering the whole block (the xarray stores those in its shift-6 nodes), or points to a leaf of 64
//! slots, one per page, each holding the id of the small folio covering that page. Memory: 4 bytes per 64 pages of
//! file span, plus 256 bytes per block holding small folios (4 bytes per page). Folio ids must stay below 2^31.

use super::folio::FolioId;

const EMPTY: u32 = u32::MAX;
const LARGE: u32 = 1 << 31;
const BLOCK: u64 = 64;

#[derive(Clone, Debug, Default)]
pub struct PageIndex {
    blocks: Vec<u32>,
    leaves: Vec<[u32; BLOCK as usize]>,
    /// Occupied slots per leaf, to free a leaf when it empties.
    used: Vec<u8>,
    free: Vec<u32>,
    folios: u64,
}

impl PageIndex {
    pub fn len(&self) -> u64 {
        self.folios
    }

    pub fn is_empty(&self) -> bool {
        self.folios == 0
    }

    /// The folio covering page `index`.
    #[inline]
    pub fn get(&self, index: u64) -> Option<FolioId> {
        let b = *self.blocks.get((index / BLOCK) as usize)?;
        if b == EMPTY {
            None
        } else if b & LARGE != 0 {
            Some(FolioId(b & !LARGE))
        } else {
            let s = self.leaves[b as usize][(index % BLOCK) as usize];
            (s != EMPTY).then_some(FolioId(s))
        }
    }

    /// Model: brings the slot of page `index` into the CPU cache ahead of its lookup (no effect on the index).
    #[inline]
    pub fn prefetch(&self, index: u64) {
        if let Some(&b) = self.blocks.get((index / BLOCK) as usize) {
            if b != EMPTY && b & LARGE == 0 {
                if let Some(leaf) = self.leaves.get(b as usize) {
                    super::prefetch::prefetch(&leaf[(index % BLOCK) as usize]);
                }
            }
        }
    }

    fn grow(&mut self, block: u64) {
        if self.blocks.len() <= block as usize {
            self.blocks.resize(block as usize + 1, EMPTY);
        }
    }

    /// The leaf of block `b`, taken from the free leaves or added when the block has none.
    fn leaf_of(&mut self, b: usize) -> usize {
        if self.blocks[b] == EMPTY {
            let leaf = match self.free.pop() {
                Some(l) => {
                    self.leaves[l as usize] = [EMPTY; BLOCK as usize];
                    l
                }
                None => {
                    self.leaves.push([EMPTY; BLOCK as usize]);
                    self.used.push(0);
                    self.leaves.len() as u32 - 1
                }
            };
            self.blocks[b] = leaf;
        }
        let leaf = self.blocks[b] as usize;
        debug_assert!(leaf < self.leaves.len(), "invariant: a block with a large folio gets no small one");
        leaf
    }

    /// Records folio `id` of 2^order pages at `index` (aligned; the range must be free).
    pub fn insert(&mut self, index: u64, order: u8, id: FolioId) {
        assert!(id.0 < LARGE, "invariant: folio ids stay below 2^31");
        let nr = 1u64 << order;
        self.folios += 1;
        if nr >= BLOCK {
            self.grow((index + nr - 1) / BLOCK);
            for b in index / BLOCK..(index + nr) / BLOCK {
                self.blocks[b as usize] = LARGE | id.0;
            }
            return;
        }
        let b = index / BLOCK;
        self.grow(b);
        let leaf = self.leaf_of(b as usize);
        for s in index % BLOCK..index % BLOCK + nr {
            self.leaves[leaf][s as usize] = id.0;
        }
        self.used[leaf] += nr as u8;
    }

    /// Records `n` order-0 folios at pages `index..index + n` with ids `first..first + n`, as `n` calls of
    /// `insert` in index order would (the same leaves, in the same order). The range must be free.
    pub fn insert_run(&mut self, index: u64, n: u64, first: FolioId) {
        assert!(first.0 as u64 + n <= LARGE as u64, "invariant: folio ids stay below 2^31");
        if n == 0 {
            return;
        }
        self.grow((index + n - 1) / BLOCK);
        let (mut i, end, mut id) = (index, index + n, first.0);
        while i < end {
            let b = (i / BLOCK) as usize;
            let upto = ((i / BLOCK + 1) * BLOCK).min(end);
            let leaf = self.leaf_of(b);
            let slots = &mut self.leaves[leaf][(i % BLOCK) as usize..(i % BLOCK + (upto - i)) as usize];
            for (k, s) in slots.iter_mut().enumerate() {
                debug_assert_eq!(*s, EMPTY, "invariant: the range is free");
                *s = id + k as u32;
            }
            self.used[leaf] += (upto - i) as u8;
            id += (upto - i) as u32;
            i = upto;
        }
        self.folios += n;
    }

    /// Forgets the folio of 2^order pages at `index`.
    pub fn remove(&mut self, index: u64, order: u8) {
        let nr = 1u64 << order;
        self.folios -= 1;
        if nr >= BLOCK {
            for b in index / BLOCK..(index + nr) / BLOCK {
                self.blocks[b as usize] = EMPTY;
            }
            return;
        }
        let b = (index / BLOCK) as usize;
        let leaf = self.blocks[b] as usize;
        for s in index % BLOCK..index % BLOCK + nr {
            self.leaves[leaf][s as usize] = EMPTY;
        }
        self.used[leaf] -= nr as u8;
        if self.used[leaf] == 0 {
            self.blocks[b] = EMPTY;
            self.free.push(leaf as u32);
        }
    }

    /// The first folio starting at or after `from` and before `to`: (its first index, id).
    pub fn next_start(&self, from: u64, to: u64) -> Option<(u64, FolioId)> {
        let mut i = from;
        while i < to {
            let b = (i / BLOCK) as usize;
            let &v = self.blocks.get(b)?;
            if v == EMPTY {
                i = (i / BLOCK + 1) * BLOCK;
            } else if v & LARGE != 0 {
                let starts_here = b == 0 || self.blocks[b - 1] != v;
                if starts_here && i % BLOCK == 0 {
                    return Some((i, FolioId(v & !LARGE)));
                }
                i = (i / BLOCK + 1) * BLOCK;
            } else {
                let leaf = &self.leaves[v as usize];
                let base = i - i % BLOCK;
                for s in i % BLOCK..BLOCK {
                    if base + s >= to {
                        return None;
                    }
                    let id = leaf[s as usize];
                    if id != EMPTY && (s == 0 || leaf[s as usize - 1] != id) {
                        return Some((base + s, FolioId(id)));
                    }
                }
                i = base + BLOCK;
            }
        }
        None
    }

    /// The page after the last cached one, if any.
    pub fn end(&self) -> Option<u64> {
        let b = self.blocks.iter().rposition(|&v| v != EMPTY)?;
        let v = self.blocks[b];
        if v & LARGE != 0 {
            return Some((b as u64 + 1) * BLOCK);
        }
        let s = self.leaves[v as usize].iter().rposition(|&x| x != EMPTY).unwrap_or(0);
        Some(b as u64 * BLOCK + s as u64 + 1)
    }

    /// Folios starting in [from, to), in order.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, FolioId)> + '_ {
        let mut at = from;
        std::iter::from_fn(move || {
            let (i, id) = self.next_start(at, to)?;
            at = i + 1;
            Some((i, id))
        })
    }

    /// Bytes held (for memory accounting).
    pub fn bytes(&self) -> usize {
        self.blocks.capacity() * 4 + self.leaves.capacity() * 256 + self.used.capacity() + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_inserted_in_bulk_is_stored_as_one_by_one() {
        // A freed leaf to reuse, a partly used block, and a run across three blocks.
        let (mut a, mut b) = (PageIndex::default(), PageIndex::default());
        for x in [&mut a, &mut b] {
            x.insert(1000, 0, FolioId(0));
            x.remove(1000, 0);
            x.insert(60, 1, FolioId(1));
        }
        for k in 0..150u32 {
            a.insert(62 + k as u64, 0, FolioId(2 + k));
        }
        b.insert_run(62, 150, FolioId(2));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(b.get(211), Some(FolioId(151)));
        assert_eq!(b.len(), 151);
    }

    #[test]
    fn small_and_large_folios() {
        let mut x = PageIndex::default();
        x.insert(0, 2, FolioId(1));
        x.insert(4, 0, FolioId(2));
        x.insert(512, 9, FolioId(3));
        assert_eq!(x.get(3), Some(FolioId(1)));
        assert_eq!(x.get(4), Some(FolioId(2)));
        assert_eq!(x.get(5), None);
        assert_eq!(x.get(1023), Some(FolioId(3)));
        assert_eq!(x.get(1024), None);
        let all: Vec<_> = x.range(0, u64::MAX).collect();
        assert_eq!(all, vec![(0, FolioId(1)), (4, FolioId(2)), (512, FolioId(3))]);
        assert_eq!(x.range(1, 600).collect::<Vec<_>>(), vec![(4, FolioId(2)), (512, FolioId(3))]);
        assert_eq!(x.end(), Some(1024));
        x.remove(512, 9);
        x.remove(0, 2);
        assert_eq!(x.end(), Some(5));
        x.remove(4, 0);
        assert!(x.is_empty() && x.end().is_none());
        // Adjacent large folios are told apart by their ids.
        x.insert(0, 6, FolioId(7));
        x.insert(64, 6, FolioId(8));
        assert_eq!(x.range(0, 1000).collect::<Vec<_>>(), vec![(0, FolioId(7)), (64, FolioId(8))]);
    }
}
