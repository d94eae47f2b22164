//! A line reader for the text importers: one reusable buffer, a cap on line length (so a trace without newlines
//! cannot take all memory), 1-based line numbers, `\r\n` tolerated, invalid UTF-8 replaced.

use std::borrow::Cow;
use std::io::{self, BufRead};

/// The longest line kept; longer lines are consumed to their end and reported as too long.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// One line, or the fact that it was too long to keep.
pub(crate) enum Line<'a> {
    /// The line without its terminator.
    Text(Cow<'a, str>),
    /// A line longer than the cap (its content is dropped).
    TooLong,
}

/// Reads lines from a `BufRead` into a reused buffer.
pub(crate) struct Lines<R> {
    r: R,
    buf: Vec<u8>,
    /// 1-based number of the line last returned (0 before the first).
    pub(crate) line_no: u64,
    max: usize,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(r: R) -> Self {
        Lines { r, buf: Vec::with_capacity(256), line_no: 0, max: MAX_LINE }
    }

    #[cfg(test)]
    pub(crate) fn with_max(r: R, max: usize) -> Self {
        Lines { r, buf: Vec::new(), line_no: 0, max }
    }

    /// The next line and its 1-based number, `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.r.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > self.max {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.r.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some((self.line_no, Line::TooLong)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.line_no, Line::Text(String::from_utf8_lossy(&self.buf)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_cap_and_number() {
        let data = b"ab\r\ncdefgh\n\nxyz";
        let mut l = Lines::with_max(&data[..], 4);
        let mut out = Vec::new();
        while let Some((_, line)) = l.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => t.into_owned(),
                Line::TooLong => "<long>".to_string(),
            });
        }
        assert_eq!(out, vec!["ab", "<long>", "", "xyz"]);
        assert_eq!(l.line_no, 4);
    }
}
