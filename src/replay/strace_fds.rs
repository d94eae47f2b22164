//! The strace importer's model of the traced processes: per-process descriptor tables whose entries share open
//! file descriptions (dup, fork), each description's file position (for sizing files and for keeping the
//! simulator's own positions in step), per-process file mappings, and which descriptors the simulator's process
//! has opened ("materialized": an inherited or duplicated descriptor is opened there on first use).

use std::collections::BTreeMap;

use crate::trace::op::{Fd, FileId, MapId, Op, OpenFlags, Whence};

/// An open file description: shared by dup'ed and inherited descriptors.
#[derive(Clone, Debug)]
pub(crate) struct Ofd {
    pub file: u32,
    /// The file position, as the trace's return values move it.
    pub pos: u64,
    pub flags: OpenFlags,
    refs: u32,
}

/// A descriptor table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A regular file: its description, close-on-exec, and the simulator's position of this descriptor (`None`
    /// while the simulator's process has not opened it).
    File { ofd: u32, cloexec: bool, sim: Option<u64> },
    /// A pipe, socket, device, directory, anonymous inode ...: its calls are not replayed.
    Other { cloexec: bool },
}

/// One file mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub map: u32,
    pub len: u64,
}

/// One process (a descriptor table and its mappings).
#[derive(Clone, Debug, Default)]
pub(crate) struct Proc {
    pub fds: BTreeMap<u32, Slot>,
    /// Mappings by start address.
    pub maps: BTreeMap<u64, Mapping>,
    free_maps: Vec<u32>,
    next_map: u32,
    /// Threads alive.
    pub live: u32,
}

/// Why a descriptor cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdProblem {
    Unknown,
    NonRegular,
}

impl FdProblem {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            FdProblem::Unknown => "unknown_fd",
            FdProblem::NonRegular => "non_regular_fd",
        }
    }
}

/// All processes and open file descriptions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    ofds: Vec<Ofd>,
    free_ofds: Vec<u32>,
    pub procs: Vec<Proc>,
}

impl Table {
    /// A new process: empty, or with a copy of `parent`'s descriptors (fork: the descriptions are shared, none
    /// is open in the simulator's new process yet; mappings are not inherited here).
    pub(crate) fn new_proc(&mut self, parent: Option<u32>) -> u32 {
        let mut p = Proc::default();
        if let Some(parent) = parent {
            for (&fd, slot) in &self.procs[parent as usize].fds {
                p.fds.insert(
                    fd,
                    match *slot {
                        Slot::File { ofd, cloexec, .. } => {
                            self.ofds[ofd as usize].refs += 1;
                            Slot::File { ofd, cloexec, sim: None }
                        }
                        other => other,
                    },
                );
            }
        }
        self.procs.push(p);
        (self.procs.len() - 1) as u32
    }

    pub(crate) fn ofd(&self, i: u32) -> &Ofd {
        &self.ofds[i as usize]
    }

    pub(crate) fn ofd_mut(&mut self, i: u32) -> &mut Ofd {
        &mut self.ofds[i as usize]
    }

    /// A new description of `file`, unreferenced until `install`ed.
    pub(crate) fn new_ofd(&mut self, file: u32, flags: OpenFlags) -> u32 {
        let o = Ofd { file, pos: 0, flags, refs: 0 };
        match self.free_ofds.pop() {
            Some(i) => {
                self.ofds[i as usize] = o;
                i
            }
            None => {
                self.ofds.push(o);
                (self.ofds.len() - 1) as u32
            }
        }
    }

    /// Removes `fd` from process `p`, pushing a `Close` if the simulator had it open. Returns the old slot.
    pub(crate) fn close(&mut self, p: u32, fd: u32, ops: &mut Vec<Op>) -> Option<Slot> {
        let slot = self.procs[p as usize].fds.remove(&fd)?;
        if let Slot::File { ofd, sim, .. } = slot {
            let o = &mut self.ofds[ofd as usize];
            o.refs -= 1;
            if o.refs == 0 {
                self.free_ofds.push(ofd);
            }
            if sim.is_some() {
                ops.push(Op::Close { fd: Fd(fd) });
            }
        }
        Some(slot)
    }

    /// Puts `slot` at `fd` (closing what was there), taking a reference on its description.
    pub(crate) fn install(&mut self, p: u32, fd: u32, slot: Slot, ops: &mut Vec<Op>) -> bool {
        let replaced = self.close(p, fd, ops).is_some();
        if let Slot::File { ofd, .. } = slot {
            self.ofds[ofd as usize].refs += 1;
        }
        self.procs[p as usize].fds.insert(fd, slot);
        replaced
    }

    /// Looks `fd` up for an operation, opening it in the simulator first if needed (pushing `Open`); with
    /// `positional`, also moves the simulator's position to the description's (pushing `Lseek`) when they differ
    /// (another descriptor or process moved the shared position). Returns the description.
    pub(crate) fn prepare(&mut self, p: u32, fd: u32, positional: bool, ops: &mut Vec<Op>) -> Result<u32, FdProblem> {
        let slot = self.procs[p as usize].fds.get_mut(&fd).ok_or(FdProblem::Unknown)?;
        let Slot::File { ofd, sim, .. } = slot else {
            return Err(FdProblem::NonRegular);
        };
        let o = &self.ofds[*ofd as usize];
        if sim.is_none() {
            let mut flags = o.flags;
            flags.creat = false;
            flags.trunc = false;
            ops.push(Op::Open { fd: Fd(fd), file: FileId(o.file), flags });
            *sim = Some(0);
        }
        if positional && *sim != Some(o.pos) {
            ops.push(Op::Lseek { fd: Fd(fd), off: o.pos.min(i64::MAX as u64) as i64, whence: Whence::Set });
            *sim = Some(o.pos);
        }
        Ok(*ofd)
    }

    /// Records the simulator's position of `fd` after an op moved it.
    pub(crate) fn set_sim_pos(&mut self, p: u32, fd: u32, pos: u64) {
        if let Some(Slot::File { sim, .. }) = self.procs[p as usize].fds.get_mut(&fd) {
            *sim = Some(pos);
        }
    }

    /// Sets or clears close-on-exec.
    pub(crate) fn set_cloexec(&mut self, p: u32, fd: u32, on: bool) {
        if let Some(Slot::File { cloexec, .. } | Slot::Other { cloexec }) = self.procs[p as usize].fds.get_mut(&fd) {
            *cloexec = on;
        }
    }

    /// A successful execve: closes the close-on-exec descriptors and drops the mappings.
    pub(crate) fn exec(&mut self, p: u32, ops: &mut Vec<Op>) {
        let fds: Vec<u32> = self.procs[p as usize]
            .fds
            .iter()
            .filter(|(_, s)| matches!(s, Slot::File { cloexec: true, .. } | Slot::Other { cloexec: true }))
            .map(|(&fd, _)| fd)
            .collect();
        for fd in fds {
            self.close(p, fd, ops);
        }
        self.unmap_all(p, ops);
    }

    /// The last thread of `p` exited: closes everything.
    pub(crate) fn exit(&mut self, p: u32, ops: &mut Vec<Op>) {
        let fds: Vec<u32> = self.procs[p as usize].fds.keys().copied().collect();
        for fd in fds {
            self.close(p, fd, ops);
        }
        self.unmap_all(p, ops);
        let pr = &mut self.procs[p as usize];
        pr.free_maps = Vec::new();
        pr.next_map = 0;
    }

    fn unmap_all(&mut self, p: u32, ops: &mut Vec<Op>) {
        let pr = &mut self.procs[p as usize];
        for (_, m) in std::mem::take(&mut pr.maps) {
            ops.push(Op::Munmap { map: MapId(m.map) });
            pr.free_maps.push(m.map);
        }
    }

    /// A new mapping slot at `addr` (a mapping already starting there is replaced: `Munmap` pushed).
    pub(crate) fn map(&mut self, p: u32, addr: u64, len: u64, ops: &mut Vec<Op>) -> MapId {
        let pr = &mut self.procs[p as usize];
        if let Some(old) = pr.maps.remove(&addr) {
            ops.push(Op::Munmap { map: MapId(old.map) });
            pr.free_maps.push(old.map);
        }
        pr.free_maps.sort_unstable_by(|a, b| b.cmp(a));
        let id = pr.free_maps.pop().unwrap_or_else(|| {
            pr.next_map += 1;
            pr.next_map - 1
        });
        pr.maps.insert(addr, Mapping { map: id, len });
        MapId(id)
    }

    /// The mapping holding `[addr, addr + len)`: its start and slot.
    pub(crate) fn find_map(&self, p: u32, addr: u64, len: u64) -> Option<(u64, Mapping)> {
        let (&start, &m) = self.procs[p as usize].maps.range(..=addr).next_back()?;
        let end = start.checked_add(m.len)?;
        (addr.checked_add(len)? <= end).then_some((start, m))
    }

    /// munmap of exactly a whole mapping.
    pub(crate) fn unmap(&mut self, p: u32, addr: u64, len: u64) -> Result<MapId, &'static str> {
        let pr = &mut self.procs[p as usize];
        match pr.maps.get(&addr) {
            Some(m) if len >= m.len => {
                let id = m.map;
                pr.maps.remove(&addr);
                pr.free_maps.push(id);
                Ok(MapId(id))
            }
            Some(_) => Err("partial_munmap"),
            None => Err("unknown_mapping"),
        }
    }
}
