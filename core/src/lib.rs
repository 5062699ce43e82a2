//! # regprune-core
//!
//! The sans-IO heart of regprune: it models a container registry (a [`Snapshot`]), plans
//! deletions ([`plan()`]) and reports exactly which tags, manifests and bytes each plan removes
//! ([`Reclaim`]), with a reason for every decision. It never touches the network, the clock or
//! the file system: time is a parameter and every input is data.
//!
//! ```
//! use regprune_core::{plan, Operation, PlanOptions, Snapshot, Timestamp};
//! let snapshot = Snapshot::from_json(br#"{"repositories": []}"#).unwrap();
//! let op = Operation::from_json(br#"{"op": "deleteUntagged"}"#).unwrap();
//! let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
//! let plan = plan(&snapshot, &op, &PlanOptions::at(now)).unwrap();
//! assert!(plan.actions.is_empty() && plan.verify());
//! ```
#![deny(missing_docs)]

mod acr_command;
mod acr_purge;
pub mod cli;
mod digest;
mod duration;
mod error;
mod evidence;
mod field;
mod generate;
mod graph;
mod hash;
pub mod http;
pub mod import;
mod indexed;
mod markdown;
mod media_type;
mod names;
mod operation;
mod par;
mod pattern;
mod plan;

mod planner;
mod policy;
mod policy_select;
mod purge;
mod reclaim;
mod render;
mod resolve;
pub mod review;
mod select;
mod selection;
mod snapshot;
pub mod store;
mod time;

pub use digest::{install_sha256, software_sha256, Digest, Sha256Fn};
pub use duration::parse_strict as parse_duration;
pub use error::{Error, ExitCode, Result};
pub use evidence::check_evidence;
pub use field::{from_deserializer, from_json, from_reader, from_value};
pub use generate::{generate, GeneratorOptions};
pub use indexed::IndexedSnapshot;
pub use markdown::{
    markdown_escape, render_annotations, render_markdown, workflow_command,
    DEFAULT_LIMIT as MARKDOWN_LIMIT,
};
pub use media_type::MediaType;
pub use names::{ImageReference, RepositoryName, TagName};
pub use operation::{Operation, PlanOptions};
pub use pattern::{BACKTRACK_LIMIT, PATTERN_SIZE_LIMIT};
pub use plan::{
    Action, ActionType, Plan, Reason, ReasonCode, Retained, Warning, WarningCode, PLAN_VERSION,
};
pub use planner::{plan, plan_json, reclaim};
pub use policy::{Limits, Policy, Protect, Rule, RuleAction, TagState};
pub use reclaim::{Reclaim, RepositoryReclaim, Shared, SharedWith};
pub use render::{
    confirmation, escape_controls, human_bytes, render_text, render_text_limited, TEXT_LIMIT,
};
pub use snapshot::{
    ChangeableAttributes, Descriptor, Manifest, Platform, Repository, Snapshot, Tag, MAX_SIZE,
};
pub use time::TimeField;
pub use time::Timestamp;
