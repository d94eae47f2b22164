//! The scratch filesystem: a sparse backing file, a loop device with direct I/O (so the backing file is not cached
//! twice), the scenario's queue knobs, mkfs, a private mount, and the scenario's files in their initial state.
//!
//! Files are written with real data (not fallocated: ext4 reads unwritten extents without any block I/O), synced,
//! and the filesystem is unmounted and mounted again, which empties its page cache without touching the rest of the
//! host. mkfs and the files' data go to the device with direct I/O: buffered set-up writes would go through the new
//! device's writeback, and its write bandwidth estimate (wb->write_bandwidth, avg_write_bandwidth, which set the
//! throttled writers' pauses) would enter the workload where the set-up left it (a 512 MiB data file left
//! 214 / 114 MB/s instead of the fresh device's 100 / 100 MB/s the model starts from). Only a file's last partial
//! page, if any, is written through the cache. Initial cached ranges are then read through a FADV_RANDOM descriptor, which reads exactly the requested
//! pages; dirty ranges are written last.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::change::{self, Change};
use super::guard::{self, Undo};
use super::host;
use super::ProbeError;
use crate::scenario::{Device, FileSpec, InitialState, Scenario};

/// One scratch device, set up.
#[derive(Clone, Debug)]
pub struct Scratch {
    pub device: String,
    pub loop_dev: PathBuf,
    pub major: u32,
    pub minor: u32,
    pub mnt: PathBuf,
    pub fs: String,
    /// Queue settings read back after writing them.
    pub read_ahead_kb: u64,
    pub max_sectors_kb: u64,
    pub max_hw_sectors_kb: u64,
    pub nr_requests: u64,
    pub scheduler: String,
    pub mkfs: String,
    /// (file name, path, inode number, size).
    pub files: Vec<(String, PathBuf, u64, u64)>,
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("paths have no NUL")
}

/// Mount options of the scratch filesystem: ext4's lazyinit thread would otherwise prefetch block bitmaps in the
/// background after each mount (reads seen in probe runs, unrelated to the workload).
pub fn mount_options(fs: &str) -> &'static str {
    match fs {
        "ext4" => "no_prefetch_block_bitmaps",
        _ => "",
    }
}

/// Where the probe's own loop devices are numbered from (above the ones distributions create at boot, so
/// `losetup --find` elsewhere on the host does not pick ours first).
const LOOP_BASE: u32 = 200;

/// loop_control_ioctl(LOOP_CTL_ADD): creates /dev/loopN for the first N >= LOOP_BASE that does not exist yet
/// (journalled first) and waits for its device node.
fn add_loop_device(undo: &mut Undo) -> Result<u32, ProbeError> {
    let ctl = change::loop_control().map_err(ProbeError::Host)?;
    for index in LOOP_BASE..LOOP_BASE + 256 {
        if Path::new(&format!("/sys/block/loop{index}")).exists() {
            continue;
        }
        undo.record(Change::LoopDevice { index })?;
        // SAFETY: an ioctl with an integer argument on the loop control device.
        let rc = unsafe { libc::ioctl(ctl.as_raw_fd(), change::LOOP_CTL_ADD as _, index as libc::c_ulong) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EEXIST) {
                // Someone else's, created meanwhile: not ours to remove.
                undo.abandon_last();
                continue;
            }
            return Err(ProbeError::Host(format!("creating loop device {index} (LOOP_CTL_ADD): {e}")));
        }
        let node = PathBuf::from(format!("/dev/loop{index}"));
        for _ in 0..200 {
            if node.exists() {
                return Ok(index);
            }
            guard::check()?;
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        return Err(ProbeError::Host(format!(
            "loop device {index} was created but {} did not appear within 2 s (is devtmpfs mounted on /dev?)",
            node.display()
        )));
    }
    Err(ProbeError::Host(format!(
        "no free loop device number in {LOOP_BASE}..{}; remove stale ones with `losetup -D`",
        LOOP_BASE + 256
    )))
}

fn mount(dev: &Path, mnt: &Path, fs: &str) -> Result<(), ProbeError> {
    let fst = CString::new(fs).unwrap();
    let data = CString::new(mount_options(fs)).unwrap();
    // SAFETY: valid C strings.
    let rc = unsafe {
        libc::mount(cstr(dev).as_ptr(), cstr(mnt).as_ptr(), fst.as_ptr(), 0, data.as_ptr() as *const libc::c_void)
    };
    if rc != 0 {
        return Err(ProbeError::Host(format!("mounting {} on {}: {}", dev.display(), mnt.display(), host::errno())));
    }
    Ok(())
}

/// The remount's unmount: the filesystem is idle (set-up closed its files).
fn umount(mnt: &Path) -> Result<(), ProbeError> {
    // SAFETY: valid C string.
    if unsafe { libc::umount2(cstr(mnt).as_ptr(), 0) } == 0 {
        return Ok(());
    }
    Err(ProbeError::Host(format!("unmounting {}: {}", mnt.display(), host::errno())))
}

/// /sys/block/loopN/queue of a loop device.
fn queue_dir(loop_dev: &Path) -> PathBuf {
    let name = loop_dev.file_name().unwrap().to_string_lossy().into_owned();
    PathBuf::from("/sys/block").join(name).join("queue")
}

/// Builds one scratch device with its files; every step is undone by `undo`.
pub fn build(sc: &Scenario, dev_index: usize, workdir: &Path, undo: &mut Undo) -> Result<Scratch, ProbeError> {
    let dev: &Device = &sc.devices[dev_index];
    let fs = dev.fs.name().to_string();
    let mkfs_cmd = format!("mkfs.{fs}");
    if !host::have(&mkfs_cmd) {
        return Err(ProbeError::Missing(format!(
            "`{mkfs_cmd}` is not installed; install it with `apt-get install -y {}`",
            host::package_of(&mkfs_cmd)
        )));
    }
    let backing = backing_file(dev, workdir, undo)?;
    let (loop_dev, major, minor) = attach_loop(&backing, undo)?;
    let q = queue_dir(&loop_dev);
    let max_hw = set_queue(dev, &q)?;
    guard::point("mkfs")?;
    let mkfs = make_fs(&mkfs_cmd, &fs, &loop_dev)?;
    let mnt = workdir.join(format!("mnt-{}", dev.name));
    undo.record(Change::Dir(mnt.clone()))?;
    std::fs::create_dir(&mnt).map_err(|e| ProbeError::Host(format!("creating {}: {e}", mnt.display())))?;
    undo.record(Change::Mount {
        target: mnt.clone(),
        source: loop_dev.to_string_lossy().into_owned(),
        fstype: fs.clone(),
    })?;
    mount(&loop_dev, &mnt, &fs)?;
    let mine: Vec<&FileSpec> = sc.files.iter().filter(|f| f.device == dev_index).collect();
    guard::point("write-files")?;
    write_files(&mnt, &mine)?;
    // Empty this filesystem's cache: unmount and mount again.
    umount(&mnt)?;
    mount(&loop_dev, &mnt, &fs)?;
    guard::point("cached-ranges")?;
    let mut files = Vec::new();
    for f in &mine {
        let p = mnt.join(&f.name);
        let ino = std::fs::metadata(&p).map_err(|e| ProbeError::Host(format!("{}: {e}", p.display())))?.ino();
        apply_state(&p, f)?;
        files.push((f.name.clone(), p, ino, f.size));
    }
    let rd = |k: &str| host::read_trim(q.join(k)).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(Scratch {
        device: dev.name.clone(),
        loop_dev,
        major,
        minor,
        mnt,
        fs,
        read_ahead_kb: rd("read_ahead_kb"),
        max_sectors_kb: rd("max_sectors_kb"),
        max_hw_sectors_kb: max_hw,
        nr_requests: rd("nr_requests"),
        scheduler: host::read_trim(q.join("scheduler")).unwrap_or_default(),
        mkfs,
        files,
    })
}

/// The device's sparse backing file under `workdir`, checked against the free space there.
fn backing_file(dev: &Device, workdir: &Path, undo: &mut Undo) -> Result<PathBuf, ProbeError> {
    let backing = workdir.join(format!("{}.img", dev.name));
    // SAFETY: statvfs fills a plain struct.
    let free = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(cstr(workdir).as_ptr(), &mut st) == 0 {
            st.f_bavail as u64 * st.f_frsize as u64
        } else {
            u64::MAX
        }
    };
    if dev.size > free {
        return Err(ProbeError::Refused(format!(
            "device `{}` needs {} bytes of backing file but {} has {} free; shrink the device or its files",
            dev.name,
            dev.size,
            workdir.display(),
            free
        )));
    }
    undo.record(Change::File(backing.clone()))?;
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&backing)
        .map_err(|e| ProbeError::Host(format!("creating {}: {e}", backing.display())))?;
    f.set_len(dev.size).map_err(|e| ProbeError::Host(format!("sizing {}: {e}", backing.display())))?;
    drop(f);
    Ok(backing)
}

/// A loop device of its own over `backing` (direct I/O), created for this run and removed after it: its bdi starts
/// with the kernel's initial bandwidth and dirty ratelimit estimates (INIT_BW), as the model's does, instead of
/// inheriting the estimates an earlier run left on a reused /dev/loopN (which made the throttled writers' pauses
/// depend on history). Returns its node and number.
fn attach_loop(backing: &Path, undo: &mut Undo) -> Result<(PathBuf, u32, u32), ProbeError> {
    let index = add_loop_device(undo)?;
    let loop_dev = PathBuf::from(format!("/dev/loop{index}"));
    undo.record(Change::LoopAttach { index, backing: backing.to_path_buf() })?;
    guard::run_command("losetup", &["--direct-io=on", &loop_dev.to_string_lossy(), &backing.to_string_lossy()])?;
    let meta = std::fs::metadata(&loop_dev).map_err(|e| ProbeError::Host(format!("{}: {e}", loop_dev.display())))?;
    let rdev = meta.rdev();
    Ok((loop_dev, libc::major(rdev), libc::minor(rdev)))
}

/// The device's queue knobs (max_sectors_kb, read_ahead_kb, nr_requests) on the loop device's queue directory;
/// returns its max_hw_sectors_kb.
fn set_queue(dev: &Device, q: &Path) -> Result<u64, ProbeError> {
    let max_hw: u64 = host::read_trim(q.join("max_hw_sectors_kb"))?.parse().unwrap_or(0);
    if dev.max_sectors_kb as u64 > max_hw {
        return Err(ProbeError::Refused(format!(
            "device `{}`: max_sectors_kb {} exceeds the loop device's max_hw_sectors_kb {max_hw}; use at most {max_hw}",
            dev.name, dev.max_sectors_kb
        )));
    }
    host::write(q.join("max_sectors_kb"), &dev.max_sectors_kb.to_string())?;
    host::write(q.join("read_ahead_kb"), &dev.read_ahead_kb.to_string())?;
    // nr_requests may be refused by some queue setups: record what is in force.
    let _ = std::fs::write(q.join("nr_requests"), dev.nr_requests.to_string());
    Ok(max_hw)
}

/// mkfs on the loop device; returns the command line it ran.
fn make_fs(mkfs_cmd: &str, fs: &str, loop_dev: &Path) -> Result<String, ProbeError> {
    let ld = loop_dev.to_string_lossy().into_owned();
    let mkfs_args: Vec<&str> = match fs {
        // No lazy init: ext4lazyinit would otherwise write inode tables in the background during the run.
        // -D: direct I/O (see the module comment; mkfs.xfs writes with direct I/O by default).
        "ext4" => vec!["-q", "-F", "-D", "-E", "lazy_itable_init=0,lazy_journal_init=0", &ld],
        _ => vec!["-q", "-f", &ld],
    };
    guard::run_command(mkfs_cmd, &mkfs_args)?;
    Ok(format!("{mkfs_cmd} {}", mkfs_args.join(" ")))
}

/// The device's files with real data, written with O_DIRECT (a last partial page through the cache), and synced.
fn write_files(mnt: &Path, mine: &[&FileSpec]) -> Result<(), ProbeError> {
    // O_DIRECT wants an aligned buffer.
    let raw = vec![0x5au8; (1 << 20) + 4096];
    let at = raw.as_ptr().align_offset(4096);
    let chunk = &raw[at..at + (1 << 20)];
    for f in mine {
        let p = mnt.join(&f.name);
        let werr = |e: std::io::Error| ProbeError::Host(format!("writing {}: {e}", p.display()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(&p)
            .map_err(|e| ProbeError::Host(format!("creating {} (O_DIRECT): {e}", p.display())))?;
        let aligned = f.size / 4096 * 4096;
        let mut off = 0u64;
        while off < aligned {
            super::guard::check()?;
            let n = (aligned - off).min(chunk.len() as u64) as usize;
            file.write_all_at(&chunk[..n], off).map_err(werr)?;
            off += n as u64;
        }
        if aligned < f.size {
            let tail = File::options().write(true).open(&p).map_err(werr)?;
            tail.write_all_at(&chunk[..(f.size - aligned) as usize], aligned).map_err(werr)?;
        }
        file.sync_all().map_err(|e| ProbeError::Host(format!("syncing {}: {e}", p.display())))?;
    }
    Ok(())
}

/// Puts a file in its initial state (after the remount, so the cache holds nothing of it).
fn apply_state(p: &Path, f: &FileSpec) -> Result<(), ProbeError> {
    let err = |e: std::io::Error| ProbeError::Host(format!("preparing {}: {e}", p.display()));
    match f.state {
        InitialState::Cold => Ok(()),
        InitialState::Cached => read_exact_range(p, 0, f.size),
        InitialState::CachedRange { off, len } => read_exact_range(p, off, len),
        InitialState::DirtyRange { off, len } => {
            let file = OpenOptions::new().write(true).open(p).map_err(err)?;
            let chunk = vec![0xa5u8; 1 << 20];
            let mut o = off;
            while o < off + len {
                guard::check()?;
                let n = (off + len - o).min(chunk.len() as u64) as usize;
                file.write_all_at(&chunk[..n], o).map_err(err)?;
                o += n as u64;
            }
            Ok(())
        }
    }
}

/// Reads [off, off+len) through a FADV_RANDOM descriptor: the kernel then reads exactly the requested pages.
fn read_exact_range(p: &Path, off: u64, len: u64) -> Result<(), ProbeError> {
    let err = |e: std::io::Error| ProbeError::Host(format!("preparing {}: {e}", p.display()));
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NOATIME).open(p).map_err(err)?;
    // SAFETY: valid fd.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM) };
    let mut buf = vec![0u8; 1 << 20];
    let mut o = off;
    while o < off + len {
        guard::check()?;
        let n = (off + len - o).min(buf.len() as u64) as usize;
        let got = file.read_at(&mut buf[..n], o).map_err(err)?;
        if got == 0 {
            break;
        }
        o += got as u64;
    }
    Ok(())
}
