//! Importers: other tools' output and registry API bodies → [`Snapshot`].

mod acr;
mod manifest;
mod storage;

use serde::Deserialize;

pub use acr::{acr_api, acr_list_metadata};
pub use manifest::{parse_manifest, with_content};
pub use storage::{
    distribution_storage, wanted_configs, StorageListing, StoredRepository, StoredRevision,
    StoredTag, MAX_CONFIG_BYTES,
};

use crate::error::Result;
use crate::time::Timestamp;

/// `created` of an image config (when it was built); cosign writes `0001-01-01`, which is no
/// time at all.
pub(crate) fn config_created(body: &[u8]) -> Option<Timestamp> {
    #[derive(Deserialize)]
    struct Config {
        created: Option<String>,
    }
    let c: Config = serde_json::from_slice(body).ok()?;
    Timestamp::parse(c.created.as_deref()?).filter(|t| t.unix_seconds() > 0)
}
use crate::names::RepositoryName;
use crate::snapshot::Snapshot;

/// A snapshot in any supported format, as one JSON document (`format` names it). This is
/// what the CLIs and the bindings accept wherever a snapshot is expected.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    tag = "format",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
#[non_exhaustive]
pub enum Import {
    /// `az acr manifest list-metadata` output for one repository.
    AcrListMetadata {
        /// The repository the output lists.
        repository: RepositoryName,
        /// The login server, for display.
        #[serde(default)]
        registry: Option<String>,
        /// The command's JSON output.
        body: serde_json::Value,
    },
    /// ACR data-plane response bodies.
    AcrApi {
        /// Every page of `_catalog`, `_manifests` and `_tags`, in any order.
        bodies: Vec<serde_json::Value>,
    },
    /// What an adapter read from a distribution registry's storage directory.
    DistributionStorage {
        /// The listing.
        listing: StorageListing,
    },
}

impl Import {
    /// Converts the document into a snapshot.
    pub fn into_snapshot(self) -> Result<Snapshot> {
        match self {
            Import::AcrListMetadata {
                repository,
                registry,
                body,
            } => acr_list_metadata(&body, &repository, registry).map_err(|e| e.under("body")),
            Import::AcrApi { bodies } => acr_api(&bodies),
            Import::DistributionStorage { listing } => {
                distribution_storage(&listing).map_err(|e| e.under("listing"))
            }
        }
    }
}
