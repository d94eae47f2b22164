//! The event queue: pending wake-ups keyed by (virtual time, insertion sequence), so same-time events run in the
//! order they were scheduled (DESIGN.md, determinism rule 3).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::units::Nanos;

/// A scheduled item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry<T: Ord> {
    time: Nanos,
    seq: u64,
    item: T,
}

/// Min-queue by (time, seq).
#[derive(Debug, Clone)]
pub struct EventQueue<T: Ord> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
}

impl<T: Ord> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), seq: 0 }
    }
}

impl<T: Ord> EventQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `item` at `time`, after everything already scheduled at that time.
    pub fn push(&mut self, time: Nanos, item: T) {
        let seq = self.seq;
        self.seq += 1;
        self.heap.push(Reverse(Entry { time, seq, item }));
    }

    /// The earliest item and its time.
    pub fn pop(&mut self) -> Option<(Nanos, T)> {
        self.heap.pop().map(|Reverse(e)| (e.time, e.item))
    }

    pub fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_items_keep_insertion_order() {
        let mut q = EventQueue::new();
        q.push(Nanos(5), 9u32);
        q.push(Nanos(1), 3);
        q.push(Nanos(5), 1);
        q.push(Nanos(5), 7);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(Nanos(1), 3), (Nanos(5), 9), (Nanos(5), 1), (Nanos(5), 7)]);
    }
}
