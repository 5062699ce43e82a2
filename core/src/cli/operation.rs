//! `plan OPERATION ARGS...`: the operation words of the command line, read into the operation
//! the planner takes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::bad;
use crate::error::Result;

/// Refuses a flag that belongs to other operations than `name` (`--keep` on `delete`).
fn refuse_foreign_flags(
    name: &str,
    options: &BTreeMap<String, Value>,
    own: &[(&str, &[&str])],
) -> Result<()> {
    for (_, flags) in own {
        for f in *flags {
            let given = match options.get(*f) {
                Some(Value::Bool(b)) => *b,
                Some(Value::Array(a)) => !a.is_empty(),
                Some(_) => true,
                None => false,
            };
            let owners: Vec<&str> = own
                .iter()
                .filter(|(_, fs)| fs.contains(f))
                .map(|(o, _)| *o)
                .collect();
            if given && !owners.contains(&name) {
                return Err(bad(
                    &format!("--{f}"),
                    format!(
                        "--{f} belongs to `plan {}`, not `plan {name}`",
                        owners.join("` or `plan ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The operation of `plan OPERATION ARGS...`; operation-only flags are taken out of `options`
/// and refused on another operation.
pub(super) fn operation(args: &[String], options: &mut BTreeMap<String, Value>) -> Result<Value> {
    const OWN: &[(&str, &[&str])] = &[
        ("delete-older-than", &["field"]),
        (
            "purge",
            &["filter", "ago", "before", "keep", "untagged", "field"],
        ),
    ];
    let Some((name, rest)) = args.split_first() else {
        return Err(bad(
            "operation",
            "plan needs an operation; see `regprune plan --help`".into(),
        ));
    };
    refuse_foreign_flags(name, options, OWN)?;
    let take = |o: &mut BTreeMap<String, Value>, k: &str| o.remove(k);
    let want = |n: usize, usage: &str| -> Result<()> {
        if rest.len() == n {
            Ok(())
        } else {
            Err(bad("operation", format!("usage: plan {name} {usage}")))
        }
    };
    Ok(match name.as_str() {
        "delete-repo" => {
            want(1, "REPOSITORY")?;
            json!({"op": "deleteRepository", "repository": rest[0]})
        }
        "delete" => {
            want(1, "IMAGE (repo:tag or repo@digest)")?;
            json!({"op": "deleteImage", "image": rest[0]})
        }
        "untag" => {
            want(1, "IMAGE (repo:tag)")?;
            json!({"op": "untag", "image": rest[0]})
        }
        "delete-older-than" => {
            want(2, "REPOSITORY BEFORE [--field lastUpdateTime|createdTime]")?;
            let field = take(options, "field").unwrap_or_else(|| json!("lastUpdateTime"));
            json!({"op": "deleteOlderThan", "repository": rest[0], "before": rest[1], "field": field})
        }
        "delete-untagged" => match rest {
            [] => json!({"op": "deleteUntagged"}),
            [repo] => json!({"op": "deleteUntagged", "repository": repo}),
            _ => return Err(bad("operation", "usage: plan delete-untagged [REPOSITORY]".into())),
        },
        "retention" => {
            want(2, "DAYS ENABLED_AT")?;
            let days: u32 = rest[0]
                .parse()
                .map_err(|_| bad("operation", format!("retention DAYS must be a whole number, not {:?}", rest[0])))?;
            json!({"op": "retention", "days": days, "enabledAt": rest[1]})
        }
        "purge" => {
            want(0, "--filter REPO:REGEX... (--ago D | --before TIME) [--keep N] [--untagged] [--field lastUpdateTime|createdTime]")?;
            let mut op = json!({
                "op": "purge",
                "filter": take(options, "filter").unwrap_or_else(|| json!([])),
                "keep": take(options, "keep").unwrap_or_else(|| json!(0)),
                "untagged": take(options, "untagged").unwrap_or(Value::Bool(false)),
            });
            if let Some(field) = take(options, "field") {
                op["timestamp"] = field;
            }
            match (take(options, "ago"), take(options, "before")) {
                (Some(ago), None) => op["ago"] = ago,
                (None, Some(before)) => op["before"] = before,
                _ => return Err(bad("--ago", "plan purge needs --ago DURATION or --before TIME (one of them)".into())),
            }
            op
        }
        "acr-purge" => {
            want(1, "'acr purge --filter ... --ago ...' (the whole command, quoted)")?;
            json!({"op": "acrPurge", "command": rest[0]})
        }
        "policy" => {
            want(1, "FILE (a policy's JSON)")?;
            json!({"op": "policy", "policyFile": rest[0]})
        }
        other => {
            return Err(bad(
                "operation",
                format!("unknown operation {other:?}; the operations are delete-repo, delete, untag, delete-older-than, delete-untagged, retention, purge, acr-purge, policy"),
            ))
        }
    })
    .inspect(|_| {
        for k in ["field", "filter", "ago", "before", "keep", "untagged"] {
            options.remove(k);
        }
    })
}
