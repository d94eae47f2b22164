//! The shadow entries of one address space, by their first page, with a count per order so that finding the entry
//! covering a page probes only the orders present (the kernel finds it in one xarray walk; a hash probe per
//! possible order cost twelve cache misses per page-cache miss on a cold page).

use super::workingset::Shadow;

/// Orders a shadow can have (a folio's order: 0..=MAX_PAGECACHE_ORDER, at most 11 here).
const ORDERS: usize = 12;

#[derive(Clone, Debug, Default)]
pub struct ShadowMap {
    /// Shadow by first page (looked up only, never iterated into output).
    map: hashbrown::HashMap<u64, Shadow>,
    /// Shadows of each order.
    per_order: [u32; ORDERS],
    /// Bit `o` set while shadows of order `o` exist.
    orders: u16,
}

impl ShadowMap {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, start: &u64) -> Option<&Shadow> {
        self.map.get(start)
    }

    pub fn contains_key(&self, start: &u64) -> bool {
        self.map.contains_key(start)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Shadow)> {
        self.map.iter()
    }

    fn count(&mut self, order: u8, up: bool) {
        let o = order as usize;
        debug_assert!(o < ORDERS, "invariant: a shadow of order {order}");
        if up {
            self.per_order[o] += 1;
            self.orders |= 1 << o;
        } else {
            self.per_order[o] -= 1;
            if self.per_order[o] == 0 {
                self.orders &= !(1 << o);
            }
        }
    }

    /// Stores `s` at `start`, replacing (and returning) the entry there.
    pub fn insert(&mut self, start: u64, s: Shadow) -> Option<Shadow> {
        self.count(s.order, true);
        let old = self.map.insert(start, s);
        if let Some(o) = old {
            self.count(o.order, false);
        }
        old
    }

    pub fn remove(&mut self, start: &u64) -> Option<Shadow> {
        let old = self.map.remove(start);
        if let Some(o) = old {
            self.count(o.order, false);
        }
        old
    }

    /// The shadow entry covering page `index`, if any: probes the orders present, smallest first.
    #[inline]
    pub fn covering(&self, index: u64) -> Option<Shadow> {
        let mut orders = self.orders;
        while orders != 0 {
            let o = orders.trailing_zeros();
            orders &= orders - 1;
            let start = index & !((1u64 << o) - 1);
            if let Some(s) = self.map.get(&start).filter(|s| s.order as u32 == o) {
                return Some(*s);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(order: u8) -> Shadow {
        Shadow { eviction: 1, workingset: false, order }
    }

    #[test]
    fn covering_finds_entries_of_every_order_present_and_counts_follow_replacements() {
        let mut m = ShadowMap::default();
        m.insert(64, sh(6));
        m.insert(3, sh(0));
        assert_eq!(m.covering(100).map(|s| s.order), Some(6));
        assert_eq!(m.covering(3).map(|s| s.order), Some(0));
        assert_eq!(m.covering(2), None);
        // A replacement of another order moves the counts.
        m.insert(64, sh(0));
        assert_eq!(m.covering(100), None);
        assert_eq!(m.covering(64).map(|s| s.order), Some(0));
        assert_eq!(m.orders, 1);
        m.remove(&64);
        m.remove(&3);
        assert_eq!((m.orders, m.per_order[0], m.len()), (0, 0, 0));
    }
}
