//! fs/read_write.c (6.18): read(2), pread64(2), readv(2), preadv2(2), write(2), pwrite64(2), writev(2),
//! pwritev2(2), lseek(2) and sendfile(2) on a regular file: the descriptor checks, the file position, and
//! vfs_read / vfs_write into the page cache or O_DIRECT.

use crate::kernel::cpu::CpuStalls;
use crate::kernel::{Kernel, Poll};
use crate::mm::filemap::{ReadCont, ReadFlags};
use crate::mm::filemap_write::WriteCont;
use crate::trace::op::{Fd, RwFlags, Whence};

use super::direct_io::DioCont;
use super::file::Files;
use super::sync::FsyncCont;

const EBADF: i64 = -(libc::EBADF as i64);
const EINVAL: i64 = -(libc::EINVAL as i64);

/// A read(2) family call between its sleeps.
#[derive(Clone, Debug)]
pub struct ReadCall {
    fd: Fd,
    /// At the file position (read, readv): it advances by what was read.
    advance: bool,
    stage: ReadCallStage,
}

/// Where a read call stands.
#[derive(Clone, Debug)]
enum ReadCallStage {
    /// A buffered read in progress.
    Buffered(ReadCont),
    /// An O_DIRECT read in progress.
    Direct(DioCont),
    /// Returned (an O_DIRECT read, or an error).
    Done(i64),
}

/// A write(2) family call between its sleeps.
#[derive(Clone, Debug)]
pub struct WriteCall {
    fd: Fd,
    /// At the file position (write, writev): it advances by what was written.
    advance: bool,
    /// What the write returns (once its data is written).
    result: i64,
    /// Where it wrote.
    at: u64,
    stage: WriteCallStage,
}

/// Where a write call stands.
#[derive(Clone, Debug)]
enum WriteCallStage {
    /// Copying into the page cache; then syncing the range when the flag is set.
    Perform(WriteCont, bool),
    /// An O_DIRECT write; then syncing the range when the flag is set.
    Direct(DioCont, bool),
    /// Syncing the written range (O_SYNC, O_DSYNC, RWF_DSYNC, RWF_SYNC).
    Sync(FsyncCont),
    Done,
}

/// import_iovec: the bytes of an iovec array; `None` on overflow (EINVAL).
pub fn iov_total(lens: &[u64]) -> Option<u64> {
    lens.iter().try_fold(0u64, |a, &l| a.checked_add(l))
}

impl Kernel {
    /// vfs_read's start on a regular file (ksys_read, ksys_pread64, do_readv, do_preadv, and the source side of
    /// do_sendfile): EBADF, EINVAL for an iovec array whose lengths overflow (`len` None); at `pos`, or at the file
    /// position for read(2) and readv(2), which then advances by what was read. O_DIRECT reads go to the device
    /// (iomap_dio_rw); buffered reads start filemap_read. `Err(r)`: the call returns `r` at once.
    pub fn read_start(
        &mut self,
        files: &mut Files,
        fd: Fd,
        pos: Option<u64>,
        len: Option<u64>,
        flags: ReadFlags,
    ) -> Result<ReadCall, i64> {
        let Some(d) = files.fget(fd) else { return Err(EBADF) };
        let Some(len) = len else { return Err(EINVAL) };
        if !d.readable {
            return Err(EBADF);
        }
        let at = pos.unwrap_or(d.pos);
        let stage = if d.direct {
            match self.iomap_dio_read_start(d.of.file, at, len) {
                Ok(c) => ReadCallStage::Direct(c),
                Err(r) => ReadCallStage::Done(r),
            }
        } else {
            match self.filemap_read_start(&d.of, at, len, flags) {
                Ok(r) => ReadCallStage::Buffered(r),
                Err(r) => ReadCallStage::Done(r),
            }
        };
        Ok(ReadCall { fd, advance: pos.is_none(), stage })
    }

    /// Model: runs a read call until it returns or sleeps; then advances the file position of read(2) and readv(2).
    pub fn read_run(&mut self, files: &mut Files, call: &mut ReadCall) -> Poll {
        let Some(d) = files.fget(call.fd) else { return Poll::Done(EBADF) };
        let r = match &mut call.stage {
            ReadCallStage::Buffered(r) => match self.filemap_read(&mut d.of, r) {
                Poll::Sleep(t) => return Poll::Sleep(t),
                Poll::Done(r) => r,
            },
            ReadCallStage::Direct(c) => match self.dio_run(c) {
                Poll::Sleep(t) => return Poll::Sleep(t),
                Poll::Done(r) => r,
            },
            ReadCallStage::Done(r) => *r,
        };
        if call.advance && r > 0 {
            d.pos += r as u64;
        }
        Poll::Done(r)
    }

    /// vfs_write's start on a regular file (ksys_write, ksys_pwrite64, do_writev, do_pwritev): EBADF, EINVAL for an
    /// iovec array whose lengths overflow (`len` None); the position: `pos`, or the file position (the end of the
    /// file with O_APPEND) for write(2) and writev(2), which then advances. O_DIRECT writes go to the device at once
    /// (fs/direct_io.rs); a buffered write starts generic_perform_write. O_SYNC / O_DSYNC and RWF_DSYNC / RWF_SYNC
    /// sync the written range afterwards (generic_write_sync). `Err(r)`: the call returns `r` at once.
    pub fn write_start(
        &mut self,
        files: &mut Files,
        fd: Fd,
        pos: Option<u64>,
        len: Option<u64>,
        rwf: RwFlags,
    ) -> Result<WriteCall, i64> {
        let Some(d) = files.fget(fd) else { return Err(EBADF) };
        let Some(len) = len else { return Err(EINVAL) };
        if !d.writable {
            return Err(EBADF);
        }
        let sync = d.sync || rwf.dsync || rwf.sync;
        let file = d.of.file;
        if d.direct {
            let at = match pos {
                Some(p) => p,
                None if d.append => self.inodes[file as usize].size,
                None => d.pos,
            };
            if pos.is_none() && d.append {
                // The write returns what it wrote, from the end the file had: the position advances from there.
                d.pos = at;
            }
            let stage = match self.direct_write_start(file, at, len) {
                Ok(c) => WriteCallStage::Direct(c, sync),
                Err(r) => return Err(r),
            };
            return Ok(WriteCall { fd, advance: pos.is_none(), result: 0, at, stage });
        }
        let at = match pos {
            Some(p) => p,
            None if d.append => {
                d.pos = self.inodes[file as usize].size;
                d.pos
            }
            None => d.pos,
        };
        let w = self.generic_write_begin(file, at, len)?;
        Ok(WriteCall { fd, advance: pos.is_none(), result: 0, at, stage: WriteCallStage::Perform(w, sync) })
    }

    /// generic_write_sync: the write's sync stage when it wrote something and must sync it, else done.
    fn write_synced(&mut self, call: &mut WriteCall, file: u32, sync: bool) {
        if call.result > 0 && sync {
            let end = call.at + call.result as u64 - 1;
            call.stage = WriteCallStage::Sync(self.fsync_start(file, call.at, end));
        } else {
            call.stage = WriteCallStage::Done;
        }
    }

    /// Model: runs a write call until it returns or sleeps; then advances the file position of write(2) and writev(2).
    pub fn write_run(&mut self, files: &mut Files, cpu: &mut CpuStalls, call: &mut WriteCall) -> Poll {
        loop {
            match &mut call.stage {
                WriteCallStage::Perform(w, sync) => match self.generic_perform_write(w, cpu) {
                    Poll::Sleep(t) => return Poll::Sleep(t),
                    Poll::Done(r) => {
                        call.result = r;
                        let (file, sync) = (w.file, *sync);
                        self.write_synced(call, file, sync);
                    }
                },
                WriteCallStage::Direct(c, sync) => match self.dio_run(c) {
                    Poll::Sleep(t) => return Poll::Sleep(t),
                    Poll::Done(r) => {
                        call.result = r;
                        let (file, sync) = (c.file(), *sync);
                        self.write_synced(call, file, sync);
                    }
                },
                WriteCallStage::Sync(f) => match self.fsync_run(f) {
                    Poll::Sleep(t) => return Poll::Sleep(t),
                    Poll::Done(_) => call.stage = WriteCallStage::Done,
                },
                WriteCallStage::Done => {
                    if call.advance && call.result > 0 {
                        if let Some(d) = files.fget(call.fd) {
                            d.pos += call.result as u64;
                        }
                    }
                    return Poll::Done(call.result);
                }
            }
        }
    }

    /// ksys_lseek -> generic_file_llseek_size: SEEK_DATA and SEEK_HOLE as for a file without holes (the data runs
    /// to i_size); EINVAL for a negative or overflowing position, ENXIO at or past i_size for DATA/HOLE.
    pub fn ksys_lseek(&mut self, files: &mut Files, fd: Fd, off: i64, whence: Whence) -> i64 {
        let Some(d) = files.fget(fd) else { return EBADF };
        let size = self.inodes[d.of.file as usize].size as i64;
        // DIVERGENCE: SEEK_DATA and SEEK_HOLE ignore the file's holes (ext4_llseek asks the extent tree: a punched
        // hole or an unwritten extent is a hole to it).
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => d.pos as i64,
            Whence::End => size,
            Whence::Data | Whence::Hole if off >= size => return -(libc::ENXIO as i64),
            Whence::Data => 0,
            Whence::Hole => {
                d.pos = size as u64;
                return size;
            }
        };
        let Some(new) = base.checked_add(off) else { return EINVAL };
        if new < 0 {
            return EINVAL;
        }
        d.pos = new as u64;
        new
    }
}
