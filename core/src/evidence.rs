//! Binding a plan to its evidence. A plan's seal (its sha256 digest) proves that nothing was
//! edited by accident since it was sealed; it proves nothing against someone who edits the
//! plan on purpose, since anyone can compute a sha256 again. Re-deriving does: planning the
//! plan's own operation, at its own time and with its own pins, against the snapshot it was
//! made from must give exactly the plan, byte for byte, or execution refuses it.

use crate::error::{Error, Result};
use crate::operation::PlanOptions;
use crate::plan::{Action, Plan};
use crate::snapshot::Snapshot;

/// Checks that `plan` is exactly what its own operation gives against `snapshot` (at the
/// plan's `now`, with its pins). `Err` names the first difference: an action added, removed or
/// changed after planning (and sealed again), or a plan made from other evidence.
pub fn check_evidence(plan: &Plan, snapshot: &Snapshot) -> Result<()> {
    if !plan.verify() {
        return Err(Error::InvalidOperation {
            path: "plan.digest".into(),
            message: "the plan's digest does not match its content: it was edited after review, or never sealed; plan again".into(),
        });
    }
    let options = PlanOptions {
        now: plan.now,
        pinned: plan.pinned.clone(),
        threads: None,
    };
    let again = crate::plan(snapshot, &plan.operation, &options)?;
    if again.digest == plan.digest {
        return Ok(());
    }
    Err(Error::InvalidOperation {
        path: "plan".into(),
        message: format!(
            "the plan does not follow from the snapshot: planning its operation again at {} gives another plan ({}); it was edited and sealed again, or made from another snapshot",
            plan.now,
            first_difference(plan, &again)
        ),
    })
}

fn describe(a: &Action) -> String {
    let target = match (&a.tag, &a.digest) {
        (Some(t), _) => format!("{}:{t}", a.repository),
        (None, Some(d)) => format!("{}@{d}", a.repository),
        (None, None) => a.repository.to_string(),
    };
    let kind = serde_json::to_value(a.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("{kind} {target}")
}

/// The first place where the two plans differ, in words.
fn first_difference(plan: &Plan, again: &Plan) -> String {
    if plan.registry != again.registry {
        return format!(
            "the plan is for the registry {:?}, the snapshot for {:?}",
            plan.registry.as_deref().unwrap_or(""),
            again.registry.as_deref().unwrap_or("")
        );
    }
    let pairs = plan.actions.iter().zip(&again.actions).enumerate();
    for (i, (a, b)) in pairs {
        if a != b {
            return format!(
                "action {i}: the plan has {}, re-planning gives {}",
                describe(a),
                describe(b)
            );
        }
    }
    match plan.actions.len().cmp(&again.actions.len()) {
        std::cmp::Ordering::Greater => format!(
            "the plan has {} action(s) more, the first {}",
            plan.actions.len() - again.actions.len(),
            describe(&plan.actions[again.actions.len()])
        ),
        std::cmp::Ordering::Less => format!(
            "re-planning gives {} action(s) more, the first {}",
            again.actions.len() - plan.actions.len(),
            describe(&again.actions[plan.actions.len()])
        ),
        std::cmp::Ordering::Equal => {
            "the same actions, but other retained items, figures or warnings".into()
        }
    }
}
