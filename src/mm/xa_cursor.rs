//! lib/xarray.c's cursor (`xa_state`: `xas_load`, `xas_next`, `xas_prev`) walking an address space, as
//! `page_cache_next_miss` / `page_cache_prev_miss` use it; split from address_space.rs. The tree is implied by the
//! folios (see `XaCursor`).

use super::folio::FolioSlab;
use super::xarray::PageIndex;

/// What an xarray slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    Null,
    Entry,
    /// A sibling of a multi-slot entry: the offset of its canonical slot.
    Sibling(u64),
    /// A child node.
    Node,
}

const XA_CHUNK_SHIFT: u32 = 6;
const XA_CHUNK_SIZE: u64 = 64;

/// The storage level of a folio of `order` in the xarray: 0 for orders 0..5, 6 for 6..11.
fn level(order: u8) -> u32 {
    (order as u32 / XA_CHUNK_SHIFT) * XA_CHUNK_SHIFT
}

/// An `xa_state` walking an address space as lib/xarray.c's xas_load/xas_next/xas_prev do. The tree is implied by
/// the folios: a folio of order o is stored in the node of shift level(o), in 2^(o - level) slots (the first one
/// canonical, the rest siblings); a slot above holds a node when any folio of a lower level lies in its range.
pub(super) struct XaCursor<'a> {
    /// The mapping's page index.
    pages: &'a PageIndex,
    slab: &'a FolioSlab,
    pub(super) index: u64,
    /// Shift of the current node and the absolute slot number (at that shift) of its slot 0.
    shift: u32,
    base: u64,
    /// Offset in the node (0..63; 64 and -1 only in transit).
    offset: i64,
    root_shift: u32,
    bounds: bool,
}

impl<'a> XaCursor<'a> {
    /// A cursor at `index`; `large`: the mapping holds a folio of order 6 or more (then the root is a node).
    pub(super) fn new(pages: &'a PageIndex, large: bool, slab: &'a FolioSlab, index: u64) -> Self {
        let max = pages.end().map_or(0, |e| e - 1);
        let max_level = if large { XA_CHUNK_SHIFT } else { 0 };
        let mut root_shift = 0;
        while (max >> root_shift) >= XA_CHUNK_SIZE || root_shift < max_level {
            root_shift += XA_CHUNK_SHIFT;
        }
        XaCursor { pages, slab, index, shift: root_shift, base: 0, offset: 0, root_shift, bounds: false }
    }

    /// The content of absolute slot `j` of the node level `shift`.
    fn slot(&self, shift: u32, j: u64) -> Slot {
        let first = j << shift;
        let last = first + (1u64 << shift) - 1;
        if let Some(id) = self.pages.get(first) {
            let f = self.slab.get(id);
            if level(f.order) == shift {
                let canon = (f.index() >> shift) & (XA_CHUNK_SIZE - 1);
                return if f.index() >> shift == j { Slot::Entry } else { Slot::Sibling(canon) };
            }
            if level(f.order) < shift {
                return Slot::Node;
            }
        }
        if shift > 0 && self.pages.next_start(first, last.saturating_add(1)).is_some() {
            return Slot::Node;
        }
        Slot::Null
    }

    fn get_offset(&self, shift: u32) -> i64 {
        ((self.index >> shift) & (XA_CHUNK_SIZE - 1)) as i64
    }

    /// Descends through nodes to an entry, resyncing the offset to the index in each child (xas_set_offset). With
    /// `siblings` (xas_load's xas_descend) a sibling moves the offset to its canonical slot; xas_next/xas_prev
    /// return siblings as they are.
    fn descend(&mut self, siblings: bool) -> Slot {
        loop {
            let mut e = self.slot(self.shift, self.base + self.offset as u64);
            while let (true, Slot::Sibling(c)) = (siblings, e) {
                self.offset = c as i64;
                e = self.slot(self.shift, self.base + c);
            }
            if let Slot::Sibling(_) = e {
                return Slot::Entry;
            }
            if e != Slot::Node {
                return e;
            }
            self.base = (self.base + self.offset as u64) * XA_CHUNK_SIZE;
            self.shift -= XA_CHUNK_SHIFT;
            self.offset = self.get_offset(self.shift);
        }
    }

    /// xas_load: walks from the root to the entry for `index`.
    pub(super) fn load(&mut self) -> Slot {
        if self.index >> self.root_shift >= XA_CHUNK_SIZE || self.pages.is_empty() {
            self.bounds = true;
            return Slot::Null;
        }
        self.shift = self.root_shift;
        self.base = 0;
        self.offset = self.get_offset(self.shift);
        self.descend(true)
    }

    fn raw(&self) -> Slot {
        match self.slot(self.shift, self.base + self.offset as u64) {
            Slot::Sibling(_) => Slot::Entry,
            e => e,
        }
    }

    /// Moves up while the offset has left the node (going past either end); false at the top (set_bounds).
    fn climb(&mut self) -> bool {
        while self.offset == XA_CHUNK_SIZE as i64 || self.offset == -1 {
            let step = self.offset.signum();
            if self.shift >= self.root_shift {
                self.bounds = true;
                return false;
            }
            let parent_slot = self.base / XA_CHUNK_SIZE;
            self.offset = (parent_slot & (XA_CHUNK_SIZE - 1)) as i64 + step;
            self.base = parent_slot & !(XA_CHUNK_SIZE - 1);
            self.shift += XA_CHUNK_SHIFT;
        }
        true
    }

    /// xas_next.
    pub(super) fn next(&mut self) -> Slot {
        if self.bounds {
            self.index = self.index.wrapping_add(1);
            return Slot::Null;
        }
        if self.shift == 0 && self.offset != XA_CHUNK_SIZE as i64 - 1 {
            self.index = self.index.wrapping_add(1);
            self.offset += 1;
            return self.raw();
        }
        self.index = self.index.wrapping_add(1);
        if self.offset != self.get_offset(self.shift) {
            self.offset += 1;
        }
        if !self.climb() {
            return Slot::Null;
        }
        self.descend(false)
    }

    /// xas_prev.
    pub(super) fn prev(&mut self) -> Slot {
        if self.bounds {
            self.index = self.index.wrapping_sub(1);
            return Slot::Null;
        }
        if self.shift == 0 && self.offset != 0 {
            self.index = self.index.wrapping_sub(1);
            self.offset -= 1;
            return self.raw();
        }
        self.index = self.index.wrapping_sub(1);
        if self.offset != self.get_offset(self.shift) {
            self.offset -= 1;
        }
        if !self.climb() {
            return Slot::Null;
        }
        self.descend(false)
    }
}
