//! A task's compiled program and the lazy [`OpStream`] that expands it.
//!
//! The program is a flat arena of blocks (block 0 is the task's op list; each `Repeat` body is another block), so
//! the stream is a small stack of `(block, position, repetitions left)` frames plus at most one running generator:
//! `Repeat(count: 1_000_000_000, ...)` costs the same memory as `Repeat(count: 1, ...)`. Streams are `Clone` and
//! deterministic: two streams of the same task yield the same ops.
//!
//! A stream can also be *fed* ([`OpStream::fed`]): its ops come from an [`OpFeed`] shared by every task of a run,
//! such as a trace replay that reads a recorded trace once and hands each task its own calls. Clones of a fed stream
//! share the feed: each op is handed out once.

use super::generate::{GenRng, GenSpec, GenState};
use crate::trace::op::Op;
use std::sync::{Arc, Mutex};

/// A source of ops for several tasks at once (a trace replay): task `task`'s next op, `None` once it has no more.
pub trait OpFeed: Send {
    /// The next op of task `task` (the index of the task in its scenario).
    fn next_op(&mut self, task: usize) -> Option<Op>;
}

/// A shared feed and the task a stream draws for.
#[derive(Clone)]
struct Fed {
    feed: Arc<Mutex<dyn OpFeed>>,
    task: usize,
}

impl std::fmt::Debug for Fed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fed {{ task: {} }}", self.task)
    }
}

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
    fed: Option<Fed>,
}

impl OpStream {
    pub(crate) fn new(prog: Arc<Program>) -> OpStream {
        let rngs = vec![None; prog.gens.len()];
        let frames = if prog.blocks.is_empty() { Vec::new() } else { vec![Frame { block: 0, pos: 0, remaining: 1 }] };
        OpStream { prog, frames, running: None, rngs, fed: None }
    }

    /// Whether the ops come from a shared feed (drawn when asked for, never ahead).
    pub fn is_fed(&self) -> bool {
        self.fed.is_some()
    }

    /// A stream whose ops are task `task`'s from `feed`.
    pub fn fed(feed: Arc<Mutex<dyn OpFeed>>, task: usize) -> OpStream {
        let mut s = OpStream::new(Arc::new(Program::default()));
        s.fed = Some(Fed { feed, task });
        s
    }
}

impl Iterator for OpStream {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        if let Some(fed) = &self.fed {
            // A feed that panicked has left nothing to hand out; its panic is reported where it happened.
            let mut feed = fed.feed.lock().unwrap_or_else(|e| e.into_inner());
            return feed.next_op(fed.task);
        }
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

    #[test]
    fn fed_streams_draw_each_op_once_from_the_shared_feed() {
        struct Counter(Vec<u64>);
        impl OpFeed for Counter {
            fn next_op(&mut self, task: usize) -> Option<Op> {
                let n = self.0.get_mut(task)?;
                (*n > 0).then(|| {
                    *n -= 1;
                    Op::Sleep { ns: *n }
                })
            }
        }
        let feed: Arc<Mutex<dyn OpFeed>> = Arc::new(Mutex::new(Counter(vec![2, 1])));
        let mut a = OpStream::fed(feed.clone(), 0);
        let mut b = OpStream::fed(feed, 1);
        let mut a2 = a.clone();
        assert_eq!(a.next(), Some(Op::Sleep { ns: 1 }));
        assert_eq!(b.next(), Some(Op::Sleep { ns: 0 }));
        assert_eq!(b.next(), None);
        // The clone shares the feed: it continues where `a` stopped.
        assert_eq!(a2.next(), Some(Op::Sleep { ns: 0 }));
        assert_eq!(a.next(), None);
    }
}
