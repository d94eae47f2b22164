//! Reading one blktrace binary stream: 48-byte `struct blk_io_trace` headers, each followed by `pdu_len` bytes, in
//! the recording host's byte order (detected from the first record, as blktrace.h's `check_data_endianness`).
//!
//! One buffer per stream, refilled in place: no allocation per record.

use std::io::{self, Read};

use super::{ErrorKind, ImportError, Location};

/// `BLK_IO_TRACE_MAGIC`.
pub(crate) const MAGIC: u32 = 0x6561_7400;
/// The version read (`BLK_IO_TRACE_VERSION`).
pub(crate) const VERSION: u32 = 7;
/// Size of `struct blk_io_trace`.
pub(crate) const HEADER: usize = 48;
const BUF: usize = 1 << 20;

/// One decoded header (fields in host order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawRecord {
    pub sequence: u32,
    pub time: u64,
    pub sector: u64,
    pub bytes: u32,
    pub action: u32,
    pub pid: u32,
    pub device: u32,
    pub cpu: u32,
    pub error: u16,
    pub pdu_len: u16,
    /// Byte offset of the header in its stream.
    pub offset: u64,
    /// Whether the stream is big-endian (PDU integers are in the same order).
    pub big_endian: bool,
    /// A remap (`A`) record's PDU: the partition's dev_t and the bio's sector in it (big-endian in every stream).
    pub remap: Option<(u32, u64)>,
}

/// A blktrace stream read through a reusable buffer.
pub(crate) struct BinReader<R> {
    pub(crate) origin: String,
    r: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// None until the first record: then whether fields are big-endian.
    big_endian: Option<bool>,
}

impl<R: Read> BinReader<R> {
    pub(crate) fn new(origin: String, r: R) -> Self {
        BinReader {
            origin,
            r,
            buf: vec![0u8; BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            big_endian: None,
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Makes at least `n` bytes available at `pos` unless the stream ends first; returns how many are.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.end - self.pos >= n || self.eof {
            return Ok(self.end - self.pos);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.pos)
    }

    fn err(&self, at: u64, kind: ErrorKind, message: String, hint: &str) -> ImportError {
        ImportError::new(&self.origin, Location::Byte(at), kind, message, hint)
    }

    /// The next record and its PDU, `None` at a clean end of the stream (an empty stream is one: blkparse skips
    /// empty per-CPU files). A stream ending inside a record is an error naming the record's offset.
    pub(crate) fn next_record(&mut self) -> Result<Option<(RawRecord, &[u8])>, ImportError> {
        let at = self.offset();
        let have = self.fill(HEADER).map_err(|e| ImportError::io(&self.origin, Location::Byte(at), e))?;
        if have == 0 {
            return Ok(None);
        }
        if have < HEADER {
            return Err(self.err(
                at,
                ErrorKind::Truncated,
                format!("the input ends {have} bytes into a 48-byte record header"),
                "the trace was cut short (blktrace killed mid-write, or a partial copy): records before this \
                 offset were read; truncate the file to this offset to drop the partial record",
            ));
        }
        let h = &self.buf[self.pos..self.pos + HEADER];
        let raw_magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let be = match self.big_endian {
            Some(be) => be,
            None => {
                let be = if raw_magic & 0xffff_ff00 == MAGIC {
                    false
                } else if raw_magic.swap_bytes() & 0xffff_ff00 == MAGIC {
                    true
                } else {
                    return Err(self.err(
                        at,
                        ErrorKind::NotThisFormat,
                        format!("bad magic {raw_magic:#010x}: not a blktrace binary (in either byte order)"),
                        "blkparse text goes to the blkparse importer; a binary must start with 0x65617407",
                    ));
                };
                self.big_endian = Some(be);
                be
            }
        };
        let u32_at = |o: usize| {
            let b = [h[o], h[o + 1], h[o + 2], h[o + 3]];
            if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[o..o + 8]);
            if be {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            }
        };
        let u16_at = |o: usize| {
            let b = [h[o], h[o + 1]];
            if be {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let magic = u32_at(0);
        if magic & 0xffff_ff00 != MAGIC {
            return Err(self.err(
                at,
                ErrorKind::Malformed,
                format!("bad magic {magic:#010x} (the stream is corrupt or misaligned here)"),
                "records before this offset were read; cut the file here to import the good part",
            ));
        }
        let version = magic & 0xff;
        if version != VERSION {
            let (msg, hint) = if version == 8 {
                (
                    "blktrace version 8 (struct blk_io_trace2, 64-bit actions, from the zoned-blktrace patches) \
                     is not supported"
                        .to_string(),
                    "record with a blktrace/kernel pair that writes version 7 records, or convert the trace",
                )
            } else {
                (format!("blktrace version {version} is not supported (only 7)"), "record with blktrace 1.x")
            };
            return Err(self.err(at, ErrorKind::UnsupportedVersion, msg, hint));
        }
        let rec = RawRecord {
            sequence: u32_at(4),
            time: u64_at(8),
            sector: u64_at(16),
            bytes: u32_at(24),
            action: u32_at(28),
            pid: u32_at(32),
            device: u32_at(36),
            cpu: u32_at(40),
            error: u16_at(44),
            pdu_len: u16_at(46),
            offset: at,
            big_endian: be,
            remap: None,
        };
        let total = HEADER + rec.pdu_len as usize;
        let have = self.fill(total).map_err(|e| ImportError::io(&self.origin, Location::Byte(at), e))?;
        if have < total {
            return Err(self.err(
                at,
                ErrorKind::Truncated,
                format!("the input ends inside the {}-byte payload of the record at this offset", rec.pdu_len),
                "the trace was cut short: records before this offset were read; truncate the file to this offset",
            ));
        }
        let start = self.pos;
        self.pos += total;
        Ok(Some((rec, &self.buf[start + HEADER..start + total])))
    }
}
