//! A snapshot indexed once and planned against many times: the preview widget plans again on
//! every edit, and the graph (every manifest numbered, every edge resolved) depends only on
//! the snapshot, as does a numbering of its blobs that makes each reclaim a pass over arrays.

use crate::error::Result;
use crate::graph::Graph;
use crate::operation::{Operation, PlanOptions};
use crate::plan::Plan;
use crate::reclaim::Reclaim;
use crate::snapshot::Snapshot;

/// The graph, or why the snapshot has none (reported by every plan, as [`crate::plan`] does).
type Built<'s> = Result<Graph<'s>>;

self_cell::self_cell!(
    struct Cell {
        owner: Snapshot,
        #[covariant]
        dependent: Built,
    }
);

/// A parsed snapshot with its graph built once. Plans from it are byte for byte the plans
/// [`crate::plan`] makes from the same snapshot.
pub struct IndexedSnapshot(Cell);

impl IndexedSnapshot {
    /// Indexes `snapshot`. A snapshot that cannot be indexed (a duplicate, a tag pointing
    /// nowhere) is kept: each plan reports the error, as [`crate::plan`] would.
    pub fn new(snapshot: Snapshot) -> IndexedSnapshot {
        IndexedSnapshot(Cell::new(snapshot, |s| {
            Graph::build(s).map(|mut g| {
                g.number_blobs();
                g
            })
        }))
    }

    /// The snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        self.0.borrow_owner()
    }

    fn graph(&self) -> Result<&Graph<'_>> {
        self.0.borrow_dependent().as_ref().map_err(Clone::clone)
    }

    /// [`crate::plan`] against this snapshot.
    pub fn plan(&self, operation: &Operation, options: &PlanOptions) -> Result<Plan> {
        let mut plan = crate::planner::unsealed_on(self.graph()?, operation, options)?;
        plan.seal();
        Ok(plan)
    }

    /// [`crate::plan_json`] against this snapshot.
    pub fn plan_json(&self, operation: &Operation, options: &PlanOptions) -> Result<String> {
        Ok(crate::planner::unsealed_on(self.graph()?, operation, options)?.seal_to_json())
    }

    /// [`crate::reclaim`] of `plan` against this snapshot.
    pub fn reclaim(&self, plan: &Plan) -> Result<Reclaim> {
        crate::reclaim::reclaim_on(self.graph()?, plan)
    }
}

impl std::fmt::Debug for IndexedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedSnapshot")
            .field("repositories", &self.snapshot().repositories.len())
            .finish_non_exhaustive()
    }
}
