//! include/linux/jbd2.h: one device's ext4 journal (journal_t: where the next transaction goes). The commit is
//! fs/jbd2.rs.

use crate::block::SECTOR;

/// One device's journal: where the next transaction is written, and whether a commit happened yet.
#[derive(Clone, Debug)]
pub struct Journal {
    /// First sector of the journal.
    pub start: u64,
    /// Sector of the journal's head (the next descriptor block).
    pub head: u64,
    pub committed: bool,
}

impl Journal {
    /// The probe's scratch ext4 journal on a device of `size` bytes with `block` byte blocks.
    pub fn new(size: u64, block: u64) -> Journal {
        let start = size / SECTOR / 2;
        Journal { start, head: start + 8 * block / SECTOR, committed: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_of_a_2gib_device_starts_in_its_middle() {
        let j = Journal::new(2 << 30, 4096);
        assert_eq!((j.start, j.head), (2097152, 2097216));
    }
}
