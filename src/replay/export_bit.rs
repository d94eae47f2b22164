//! One blktrace record as the exporters build it ([`Bit`]) and the action codes they write ([`ta`]), shared by the
//! binary encoder (`export.rs`) and the text formatter (`export_fmt.rs`).

/// `__BLK_TA_*` action codes.
pub(crate) mod ta {
    pub const QUEUE: u32 = 1;
    pub const BACKMERGE: u32 = 2;
    pub const FRONTMERGE: u32 = 3;
    pub const GETRQ: u32 = 4;
    pub const REQUEUE: u32 = 6;
    pub const ISSUE: u32 = 7;
    pub const COMPLETE: u32 = 8;
    pub const INSERT: u32 = 12;
    pub const SPLIT: u32 = 13;
}

/// One blktrace record, in host order, before encoding or formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bit {
    pub sequence: u32,
    /// Nanoseconds since genesis.
    pub time: u64,
    pub sector: u64,
    pub bytes: u32,
    /// Action code and category bits (`act | cats << 16`).
    pub action: u32,
    pub pid: u32,
    pub device: u32,
    pub error: u16,
    /// The split's new sector (X only).
    pub split_to: Option<u64>,
}
