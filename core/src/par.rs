//! Fork-join for the planner's largest passes, on scoped threads: no pool outlives a call, so a
//! process that forks (Python's `multiprocessing`) never inherits a pool whose threads are
//! gone. Work is split into lanes whose results do not depend on how many there are; where
//! threads do not exist (wasm32), for small inputs, or with `threads: 1` in `PlanOptions` (the
//! bindings read `REGPRUNE_THREADS` into it), every lane runs on the calling thread. The core
//! reads no environment and keeps no global state: the number of threads is a parameter.

use std::io::Write as _;

/// Below this much work (references to visit), a second thread costs more than it saves.
const MIN_WORK: usize = 1 << 16;

/// More lanes than this split a pass into tables too small to pay for the extra scans.
const MAX_LANES: usize = 8;

#[cfg(test)]
thread_local! {
    static FORCED: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every pass it starts on this thread split into `lanes` lanes, whatever its
/// size (tests check that results do not depend on the lanes).
#[cfg(test)]
pub(crate) fn with_lanes<T>(lanes: usize, f: impl FnOnce() -> T) -> T {
    FORCED.with(|c| c.set(Some(lanes)));
    let out = f();
    FORCED.with(|c| c.set(None));
    out
}

/// Where the writer appends: a buffer it can write into directly, told after each item so a
/// streaming consumer can take full blocks.
pub(crate) trait Sink {
    /// The bytes written so far (and not yet taken).
    fn bytes(&mut self) -> &mut Vec<u8>;
    /// An item is complete; a streaming sink may hand its buffer on.
    fn item_done(&mut self) {}
}

impl Sink for Vec<u8> {
    fn bytes(&mut self) -> &mut Vec<u8> {
        self
    }
}

/// How many lanes a pass over `work` items uses, with at most `threads` threads.
pub(crate) fn lanes(work: usize, threads: usize) -> usize {
    #[cfg(test)]
    if let Some(n) = FORCED.with(std::cell::Cell::get) {
        return n;
    }
    if cfg!(target_family = "wasm") || work < MIN_WORK {
        return 1;
    }
    threads.clamp(1, MAX_LANES)
}

/// The threads a pass may use when the caller does not say: the machine's parallelism.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_LANES)
}
/// `f(0), f(1), .. f(lanes - 1)`, in that order, lane 0 on the calling thread and the others
/// on scoped threads. A lane whose thread cannot be started runs on the calling thread; a
/// panic in a lane is resumed on the caller.
pub(crate) fn each<T: Send>(lanes: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if lanes <= 1 {
        return vec![f(0)];
    }
    std::thread::scope(|s| {
        let f = &f;
        let started: Vec<_> = (1..lanes)
            .map(|i| (i, std::thread::Builder::new().spawn_scoped(s, move || f(i))))
            .collect();
        let mut out = Vec::with_capacity(lanes);
        out.push(f(0));
        for (i, handle) in started {
            out.push(match handle {
                Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                Err(_) => f(i),
            });
        }
        out
    })
}

/// Bytes handed from one thread to another a block at a time.
const BLOCK: usize = 1 << 16;

/// Runs `produce`, which writes bytes, and writes them to `consume` in order: on a second
/// thread when `lanes > 1` (the writer fills a block while the other thread consumes the last
/// one; at most four blocks are in flight), else on the calling thread (also when no thread
/// can be started: a copy of the fresh `consume` is kept for that). Returns `consume`, which
/// holds whatever it accumulated. `consume` must not fail (a hasher, a buffer): its errors are
/// dropped.
pub(crate) fn pipe<C, P>(lanes: usize, consume: C, produce: P) -> C
where
    C: std::io::Write + Send + Clone,
    P: FnOnce(&mut Blocks<'_>),
{
    let on_this_thread = |mut consume: C, produce: P| {
        let mut out = Blocks::new(To::Here(&mut consume));
        produce(&mut out);
        out.send();
        drop(out);
        consume
    };
    if lanes <= 1 {
        return on_this_thread(consume, produce);
    }
    let fallback = consume.clone();
    std::thread::scope(|s| {
        let (full, blocks) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (empty, spares) = std::sync::mpsc::channel::<Vec<u8>>();
        let mut consume = consume;
        let consumer = std::thread::Builder::new().spawn_scoped(s, move || {
            for block in blocks {
                let _ = consume.write_all(&block);
                // The writer may be gone already; the block is then dropped here.
                let _ = empty.send(block);
            }
            consume
        });
        let Ok(consumer) = consumer else {
            return on_this_thread(fallback, produce);
        };
        let mut out = Blocks::new(To::There { full, spares });
        produce(&mut out);
        out.send();
        // Closing the channel ends the consumer's loop.
        drop(out);
        consumer
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// The writer [`pipe`] hands out: the producer appends to its block (as a
/// [`Sink`]), and each full block goes on to the consumer.
pub(crate) struct Blocks<'c> {
    block: Vec<u8>,
    to: To<'c>,
}

enum To<'c> {
    /// The consumer, on this thread.
    Here(&'c mut dyn std::io::Write),
    /// The consumer's thread, which sends emptied blocks back for reuse.
    There {
        full: std::sync::mpsc::SyncSender<Vec<u8>>,
        spares: std::sync::mpsc::Receiver<Vec<u8>>,
    },
}

impl<'c> Blocks<'c> {
    fn new(to: To<'c>) -> Self {
        Blocks {
            block: Vec::with_capacity(BLOCK),
            to,
        }
    }

    fn send(&mut self) {
        if self.block.is_empty() {
            return;
        }
        match &mut self.to {
            To::Here(consume) => {
                let _ = consume.write_all(&self.block);
                self.block.clear();
            }
            To::There { full, spares } => {
                let mut next = spares.try_recv().unwrap_or_default();
                next.clear();
                next.reserve(BLOCK);
                let block = std::mem::replace(&mut self.block, next);
                // The consumer stops early only by panicking, which is resumed when it is
                // joined.
                let _ = full.send(block);
            }
        }
    }
}

impl Sink for Blocks<'_> {
    fn bytes(&mut self) -> &mut Vec<u8> {
        &mut self.block
    }
    fn item_done(&mut self) {
        if self.block.len() >= BLOCK {
            self.send();
        }
    }
}

/// `into` followed by `more`, without the spare capacity a growing vector leaves (a large
/// selection is hundreds of MB).
pub(crate) fn join<T>(into: &mut Vec<T>, mut more: Vec<T>) {
    if into.is_empty() {
        std::mem::swap(into, &mut more);
    } else {
        into.reserve_exact(more.len());
        into.append(&mut more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_come_back_in_order() {
        assert_eq!(each(4, |i| i * 10), vec![0, 10, 20, 30]);
        assert_eq!(each(1, |i| i + 1), vec![1]);
    }

    #[test]
    fn piped_bytes_arrive_whole_and_in_order() {
        let produce = |out: &mut Blocks<'_>| {
            for i in 0..200_000u32 {
                out.bytes().extend_from_slice(&i.to_le_bytes());
                out.item_done();
            }
        };
        let expected: Vec<u8> = (0..200_000u32).flat_map(u32::to_le_bytes).collect();
        for lanes in [1, 2] {
            let got = pipe(lanes, Vec::new(), produce);
            assert_eq!(got, expected, "{lanes} lanes");
        }
    }

    #[test]
    fn small_work_stays_on_one_lane_and_threads_bound_the_lanes() {
        assert_eq!(lanes(10, 8), 1);
        if !cfg!(target_family = "wasm") {
            assert_eq!(lanes(1 << 20, 3), 3);
            assert_eq!(lanes(1 << 20, 1), 1);
            assert_eq!(lanes(1 << 20, 0), 1);
            assert_eq!(lanes(1 << 20, 99), MAX_LANES);
        }
    }
}
