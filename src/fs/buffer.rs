//! fs/buffer.c: reads of single filesystem blocks through buffer heads (`submit_bh`), as ext4 issues them for a
//! partial-block write.

use crate::kernel::Kernel;
use crate::units::Nanos;

impl Kernel {
    /// submit_bh for each filesystem block at byte offsets `blocks` of `file` (`bs` bytes each): one bio and request
    /// per block, as bh_read_nowait issues them (no plug); returns when the last completes.
    pub fn read_blocks(&mut self, file: u32, blocks: &[u64], bs: u64) -> Nanos {
        let dev = self.inodes[file as usize].device;
        let mut done = self.now;
        for &b in blocks {
            let (sector, _) = self.inodes[file as usize].extents.map(b >> 12);
            self.scratch_reqs.clear();
            self.scratch_reqs.push(crate::block::Request {
                sector: sector + (b & 4095) / 512,
                nr_sectors: bs / 512,
                segments: 1,
            });
            let rwbs = self.rwbs_r.clone();
            for d in self.issue_requests(dev, &rwbs, true) {
                done = done.max(d.2);
            }
        }
        done
    }
}
