//! struct file and the task's descriptor table (include/linux/fs.h, fs/file.c): an open file description with its
//! position, open flags and readahead state (struct file_ra_state), and the slots (`Fd`) that name them.

use crate::trace::op::Fd;

/// struct file_ra_state (include/linux/fs.h, 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRaState {
    pub start: u64,
    pub size: u64,
    pub async_size: u64,
    pub ra_pages: u64,
    pub mmap_miss: u64,
    pub prev_pos: i64,
    pub order: u32,
}

impl FileRaState {
    /// file_ra_state_init: the bdi's window, no history.
    pub fn new(ra_pages: u64) -> Self {
        FileRaState { start: 0, size: 0, async_size: 0, ra_pages, mmap_miss: 0, prev_pos: -1, order: 0 }
    }
}

/// struct file: what the read path needs of an open file.
#[derive(Clone, Debug)]
pub struct OpenFile {
    pub file: u32,
    pub ra: FileRaState,
    /// FMODE_RANDOM (POSIX_FADV_RANDOM).
    pub random: bool,
    /// FMODE_NOREUSE (POSIX_FADV_NOREUSE).
    pub noreuse: bool,
}

/// An open file description (struct file): the read path's view of it (`OpenFile`: f_ra, f_mode), the position and
/// the open flags that matter to the page cache.
#[derive(Clone, Debug)]
pub struct File {
    pub of: OpenFile,
    /// f_pos.
    pub pos: u64,
    /// O_DIRECT.
    pub direct: bool,
    pub readable: bool,
    pub writable: bool,
    /// O_APPEND.
    pub append: bool,
    /// O_SYNC or O_DSYNC.
    pub sync: bool,
}

/// A task's files (struct files_struct): open file descriptions, shared by its descriptors and mappings, and the
/// descriptor table.
#[derive(Clone, Debug, Default)]
pub struct Files {
    /// Every open file description the task made, in order (a mapping keeps its index after the close).
    pub files: Vec<File>,
    /// Descriptor slot -> open file description.
    fds: Vec<Option<usize>>,
}

impl Files {
    #[inline]
    /// fget: the open file description behind `fd`.
    pub fn fget(&mut self, fd: Fd) -> Option<&mut File> {
        let i = (*self.fds.get(fd.0 as usize)?)?;
        Some(&mut self.files[i])
    }

    /// The file open as `fd`, if any.
    #[inline]
    pub fn file_of(&self, fd: Fd) -> Option<u32> {
        Some(self.files[self.index(fd)?].of.file)
    }

    /// The index of the open file description behind `fd` (a mapping refers to it).
    pub fn index(&self, fd: Fd) -> Option<usize> {
        self.fds.get(fd.0 as usize).copied().flatten()
    }

    /// fd_install: `fd` names a new open file description.
    pub fn install(&mut self, fd: Fd, f: File) {
        let slot = fd.0 as usize;
        if self.fds.len() <= slot {
            self.fds.resize_with(slot + 1, || None);
        }
        self.files.push(f);
        self.fds[slot] = Some(self.files.len() - 1);
    }

    /// close_fd: frees the slot; false when it was not open (EBADF).
    pub fn close_fd(&mut self, fd: Fd) -> bool {
        self.fds.get_mut(fd.0 as usize).and_then(|f| f.take()).is_some()
    }
}
