//! A snapshot indexed once and planned against many times: the preview widget plans again on
//! every edit, and the graph (every manifest numbered, every edge resolved) depends only on
//! the snapshot, as does a numbering of its blobs that makes each reclaim a pass over arrays.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::error::Result;
use crate::graph::Graph;
use crate::operation::{Operation, PlanOptions};
use crate::plan::Plan;
use crate::reclaim::Reclaim;
use crate::snapshot::Snapshot;

/// The graph, once a plan needed it, or why the snapshot has none (reported by every plan,
/// as [`crate::plan`] does).
type Lazy<'s> = OnceLock<Result<Graph<'s>>>;

self_cell::self_cell!(
    struct Cell {
        owner: Snapshot,
        #[not_covariant]
        dependent: Lazy,
    }
);

/// A parsed snapshot whose graph is built by the first plan and kept for the next ones,
/// which also number its blobs once. Plans from it are byte for byte the plans
/// [`crate::plan`] makes from the same snapshot; a single plan costs what [`crate::plan`]
/// costs.
pub struct IndexedSnapshot {
    cell: Cell,
    planned: AtomicBool,
    threads: Option<usize>,
}

impl IndexedSnapshot {
    /// Keeps `snapshot` for planning. A snapshot that cannot be indexed (a duplicate, a tag
    /// pointing nowhere) is kept too: each plan reports the error, as [`crate::plan`] would.
    pub fn new(snapshot: Snapshot) -> IndexedSnapshot {
        IndexedSnapshot::with_threads(snapshot, None)
    }

    /// [`IndexedSnapshot::new`], its passes on at most `threads` threads (`None`: the
    /// machine's parallelism).
    pub fn with_threads(snapshot: Snapshot, threads: Option<usize>) -> IndexedSnapshot {
        IndexedSnapshot {
            cell: Cell::new(snapshot, |_| OnceLock::new()),
            planned: AtomicBool::new(false),
            threads,
        }
    }

    /// The snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        self.cell.borrow_owner()
    }

    /// Runs `f` on the graph. From the second use on, the blobs are numbered first (the
    /// numbering costs about one reclaim, so a single plan does without it).
    fn with_graph<R>(&self, f: impl FnOnce(&Graph<'_>) -> Result<R>) -> Result<R> {
        let again = self.planned.swap(true, Ordering::Relaxed);
        self.cell.with_dependent(|snapshot, lazy| {
            let graph = lazy
                .get_or_init(|| Graph::build_with(snapshot, self.threads))
                .as_ref()
                .map_err(Clone::clone)?;
            if again {
                graph.number_blobs();
            }
            f(graph)
        })
    }

    /// [`crate::plan`] against this snapshot.
    pub fn plan(&self, operation: &Operation, options: &PlanOptions) -> Result<Plan> {
        self.with_graph(|g| {
            let mut plan = crate::planner::unsealed_on(g, operation, options)?;
            plan.seal();
            Ok(plan)
        })
    }

    /// The plan [`IndexedSnapshot::plan`] makes, not yet sealed (`digest` is `None`): what a
    /// preview shows while the user edits the request ([`crate::review`]). Seal it
    /// ([`Plan::seal`], [`Plan::seal_to_json`]) before it is saved or executed.
    pub fn plan_unsealed(&self, operation: &Operation, options: &PlanOptions) -> Result<Plan> {
        self.with_graph(|g| crate::planner::unsealed_on(g, operation, options))
    }

    /// [`crate::plan_json`] against this snapshot.
    pub fn plan_json(&self, operation: &Operation, options: &PlanOptions) -> Result<String> {
        self.with_graph(|g| Ok(crate::planner::unsealed_on(g, operation, options)?.seal_to_json()))
    }

    /// [`crate::reclaim`] of `plan` against this snapshot.
    pub fn reclaim(&self, plan: &Plan) -> Result<Reclaim> {
        self.with_graph(|g| crate::planner::reclaim_on(g, plan))
    }
}

impl std::fmt::Debug for IndexedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedSnapshot")
            .field("repositories", &self.snapshot().repositories.len())
            .finish_non_exhaustive()
    }
}
