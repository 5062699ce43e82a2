//! Fork-join for the planner's largest passes, on scoped threads: no pool outlives a call, so a
//! process that forks (Python's `multiprocessing`) never inherits a pool whose threads are
//! gone. Work is split into lanes whose results do not depend on how many there are; where
//! threads do not exist (wasm32), for small inputs, or with `REGPRUNE_THREADS=1`, every lane
//! runs on the calling thread.

use std::sync::OnceLock;

/// Below this much work (references to visit), a second thread costs more than it saves.
const MIN_WORK: usize = 1 << 16;

/// More lanes than this split a pass into tables too small to pay for the extra scans.
const MAX_LANES: usize = 8;

/// How many lanes a pass over `work` items uses.
pub(crate) fn lanes(work: usize) -> usize {
    if cfg!(target_family = "wasm") || work < MIN_WORK {
        return 1;
    }
    threads()
}

/// `REGPRUNE_THREADS` when set to a positive number, else the available parallelism; at most
/// [`MAX_LANES`]. Read once per process.
fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        let asked = std::env::var("REGPRUNE_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        asked
            .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
            .unwrap_or(1)
            .min(MAX_LANES)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_come_back_in_order() {
        assert_eq!(each(4, |i| i * 10), vec![0, 10, 20, 30]);
        assert_eq!(each(1, |i| i + 1), vec![1]);
    }

    #[test]
    fn small_work_stays_on_one_lane() {
        assert_eq!(lanes(10), 1);
        assert!(lanes(1 << 20) >= 1);
    }
}
