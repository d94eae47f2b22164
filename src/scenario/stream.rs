//! A task's compiled program and the lazy [`OpStream`] that expands it.
//!
//! The program is a flat arena of blocks (block 0 is the task's op list; each `Repeat` body is another block), so
//! the stream is a small stack of `(block, position, repetitions left)` frames plus at most one running generator:
//! `Repeat(count: 1_000_000_000, ...)` costs the same memory as `Repeat(count: 1, ...)`. Streams are `Clone` and
//! deterministic: two streams of the same task yield the same ops.

use super::generate::{GenRng, GenSpec, GenState};
use crate::trace::op::Op;
use std::sync::Arc;

/// One item of a compiled block.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Op(Op),
    /// Run block `block` `count` (>= 1) times.
    Repeat {
        count: u64,
        block: usize,
    },
    /// Run generator `gens[i]`.
    Gen(usize),
}

/// A task's compiled program.
#[derive(Clone, Debug, Default)]
pub(crate) struct Program {
    pub blocks: Vec<Vec<Node>>,
    pub gens: Vec<GenSpec>,
}

#[derive(Clone, Debug)]
struct Frame {
    block: usize,
    pos: usize,
    remaining: u64,
}

/// The ops of one task, produced on demand (see [`super::Scenario::ops`]).
#[derive(Clone, Debug)]
pub struct OpStream {
    prog: Arc<Program>,
    frames: Vec<Frame>,
    running: Option<(usize, GenState)>,
    rngs: Vec<Option<GenRng>>,
}

impl OpStream {
    pub(crate) fn new(prog: Arc<Program>) -> OpStream {
        let rngs = vec![None; prog.gens.len()];
        let frames = if prog.blocks.is_empty() { Vec::new() } else { vec![Frame { block: 0, pos: 0, remaining: 1 }] };
        OpStream { prog, frames, running: None, rngs }
    }
}

impl Iterator for OpStream {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        loop {
            if let Some((gi, state)) = &mut self.running {
                let spec = &self.prog.gens[*gi];
                let rng = self.rngs[*gi].get_or_insert_with(|| GenRng::new(spec));
                if let Some(op) = state.next(spec, rng) {
                    return Some(op);
                }
                self.running = None;
            }
            let frame = self.frames.last_mut()?;
            let block = &self.prog.blocks[frame.block];
            let Some(node) = block.get(frame.pos) else {
                if frame.remaining > 1 {
                    frame.remaining -= 1;
                    frame.pos = 0;
                } else {
                    self.frames.pop();
                }
                continue;
            };
            frame.pos += 1;
            match node {
                Node::Op(op) => return Some(op.clone()),
                &Node::Repeat { count, block } => {
                    if count > 0 {
                        self.frames.push(Frame { block, pos: 0, remaining: count });
                    }
                }
                &Node::Gen(i) => self.running = Some((i, GenState::default())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::op::Fd;

    #[test]
    fn repeat_expands_lazily_and_nests() {
        let read = Node::Op(Op::Read { fd: Fd(0), len: 4096 });
        let prog = Program {
            blocks: vec![
                vec![Node::Op(Op::Sync), Node::Repeat { count: 1_000_000_000_000, block: 1 }],
                vec![Node::Repeat { count: 2, block: 2 }, Node::Op(Op::Close { fd: Fd(0) })],
                vec![read],
            ],
            gens: vec![],
        };
        let s = OpStream::new(Arc::new(prog));
        let names: Vec<_> = s.clone().take(8).map(|op| op.name()).collect();
        assert_eq!(names, ["sync", "read", "read", "close", "read", "read", "close", "read"]);
        // A trillion iterations: the stream stays a few frames deep.
        let mut deep = s;
        for _ in 0..1_000 {
            deep.next();
        }
        assert!(deep.next().is_some());
        assert!(deep.frames.len() <= 3);
    }
}
