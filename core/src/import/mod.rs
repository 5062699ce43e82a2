//! Importers: other tools' output and registry API bodies → [`Snapshot`](crate::Snapshot).

mod acr;
mod manifest;

pub use acr::{acr_api, acr_list_metadata};
pub use manifest::{parse_manifest, with_content};
