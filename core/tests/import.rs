//! Importers on real shapes: Microsoft's published ACR API examples, the ACR guide's CLI
//! output, and manifest bytes of every supported format.

use std::path::Path;

use regprune_core::import::{acr_api, acr_list_metadata, parse_manifest, with_content};
use regprune_core::{Digest, Error, MediaType, RepositoryName};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/acr-api")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the fixtures live in tests/fixtures/acr-api)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn body(name: &str) -> Value {
    fixture(name)["responses"]["200"]["body"].clone()
}

#[test]
fn acr_api_bodies_build_a_snapshot() {
    let s = acr_api(&[body("GetManifestList.json"), body("GetTagList.json")]).unwrap();
    assert_eq!(s.registry.as_deref(), Some("acrapi.azurecr-test.io"));
    assert!(!s.complete, "no catalog was given");
    let repo = &s.repositories[0];
    assert_eq!(repo.name.as_str(), "nanoserver");
    assert_eq!(repo.manifests.len(), 2);
    assert_eq!(repo.manifests[0].image_size, Some(2_401_606));
    assert_eq!(
        repo.manifests[1].last_update_time.unwrap().to_string(),
        "2018-09-07T16:30:46.5651701Z"
    );
    // Tag times come from _tags, not from the manifest listing.
    let t = repo
        .tags
        .iter()
        .find(|t| t.name.as_str() == "4.7.2-20180906-nanoserver-1803")
        .unwrap();
    assert_eq!(
        t.last_update_time.unwrap().to_string(),
        "2018-09-07T16:30:46.7022734Z"
    );
    assert_eq!(t.changeable_attributes.unwrap().delete_enabled, Some(true));
}

#[test]
fn a_catalog_with_every_repository_listed_is_complete() {
    let mut manifests = body("GetManifestList.json");
    manifests["imageName"] = json!("production/alpine");
    let mut other = body("GetManifestList.json");
    other["imageName"] = json!("testing/alpine");
    let s = acr_api(&[body("GetRepositoryList.json"), manifests.clone()]).unwrap();
    assert!(!s.complete, "testing/alpine was not listed");
    let s = acr_api(&[body("GetRepositoryList.json"), manifests, other]).unwrap();
    assert!(s.complete);
    assert_eq!(s.repositories.len(), 2);
}

#[test]
fn single_item_bodies_and_locks_are_read() {
    let s = acr_api(&[
        body("UpdateManifestAttributes.json"),
        body("GetRepositoryAttributes.json"),
    ])
    .unwrap();
    let m = &s.repositories[0].manifests[0];
    assert_eq!(m.changeable_attributes.unwrap().write_enabled, Some(false));
    assert_eq!(
        s.repositories[0].tags.len(),
        1,
        "tags listed on the manifest become tags"
    );
}

#[test]
fn bad_values_in_bodies_name_their_place() {
    // GetTagAttributes' request digest is not valid hex; put it where a digest is read.
    let mut b = body("GetTagAttributes.json");
    b["tag"]["digest"] = fixture("GetTagAttributes.json")["parameters"]["reference"].clone();
    let e = acr_api(&[body("GetManifestList.json"), b]).unwrap_err();
    assert_eq!(e.code(), "invalid_digest");
    assert_eq!(
        e.to_string(),
        "bodies[1].tag.digest: \"sha256:eabe547f78d4c18c708dd97ec3166cf7464cc651f1cbb67e7afas407405b7ad7b6\" is not a valid digest"
    );
}

#[test]
fn list_metadata_reads_both_shapes_of_the_guide() {
    let old = json!([{"digest": "sha256:0a2e01852872580b2c2fea9380ff8d7b637d3928783c55beb3f21a6e58d5d108",
        "tags": ["latest", "v3"], "timestamp": "2018-07-12T15:52:00.2075864Z"}]);
    let repo = RepositoryName::parse("acr-helloworld").unwrap();
    let s = acr_list_metadata(&old, &repo, None).unwrap();
    assert_eq!(s.repositories[0].tags.len(), 2);
    assert_eq!(
        s.repositories[0].manifests[0]
            .last_update_time
            .unwrap()
            .to_string(),
        "2018-07-12T15:52:00.2075864Z"
    );
    let new = json!([{ "architecture": "amd64", "changeableAttributes": { "deleteEnabled": true,
        "listEnabled": true, "quarantineState": "Passed", "readEnabled": true, "writeEnabled": true },
        "configMediaType": "application/vnd.docker.container.image.v1+json",
        "createdTime": "2020-05-16T04:25:14.3112885Z",
        "digest": "sha256:eef2ef471f9f9d01fd2ed81bd2492ddcbc0f281b0a6e4edb700fbf9025448388",
        "imageSize": 22_906_605_u64, "lastUpdateTime": "2020-05-16T04:25:14.3112885Z",
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "os": "linux",
        "timestamp": "2020-05-16T04:25:14.3112885Z" }]);
    let s = acr_list_metadata(&new, &repo, None).unwrap();
    let m = &s.repositories[0].manifests[0];
    assert!(s.repositories[0].tags.is_empty(), "no tags array: untagged");
    assert_eq!(m.media_type, Some(MediaType::DockerManifest));
    assert_eq!(m.image_size, Some(22_906_605));
    assert!(m.is_shallow());
}

#[test]
fn docker_manifest_bytes_from_the_acr_example() {
    let bytes = serde_json::to_vec_pretty(&body("GetManifest.json")).unwrap();
    let m = parse_manifest(&bytes, None, None).unwrap();
    assert_eq!(m.digest, Digest::sha256(&bytes));
    assert_eq!(m.size, Some(bytes.len() as u64));
    assert_eq!(m.media_type, Some(MediaType::DockerManifest));
    assert_eq!(m.layers.as_ref().unwrap().len(), 5);
    assert_eq!(
        m.blobs().map(|b| b.size.unwrap()).sum::<u64>(),
        5_824 + 2_014_658 + 19_778_035 + 1_074_044 + 5_827 + 568
    );
    // The digest is of the exact bytes: re-serializing changes it.
    let compact = serde_json::to_vec(&body("GetManifest.json")).unwrap();
    assert_ne!(
        parse_manifest(&compact, None, None).unwrap().digest,
        m.digest
    );
}

#[test]
fn a_wrong_claimed_digest_is_refused() {
    let bytes = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let claimed = Digest::sha256(b"something else");
    let e = parse_manifest(bytes, Some(&claimed), None).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert_eq!(e.code(), "digest_mismatch");
    let good = Digest::sha256(bytes);
    assert_eq!(
        parse_manifest(bytes, Some(&good), None).unwrap().digest,
        good
    );
}

#[test]
fn indexes_lists_and_artifacts_are_understood() {
    let child = Digest::sha256(b"child");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{child}","size":7,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#
    );
    let m = parse_manifest(index.as_bytes(), None, None).unwrap();
    assert!(m.is_index());
    assert_eq!(
        m.manifests.as_ref().unwrap()[0]
            .platform
            .as_ref()
            .unwrap()
            .variant
            .as_deref(),
        Some("v8")
    );

    // No mediaType in the body: the Content-Type header, then the shape, decide.
    let bare = format!(r#"{{"schemaVersion":2,"manifests":[{{"digest":"{child}","size":7}}]}}"#);
    let m = parse_manifest(bare.as_bytes(), None, None).unwrap();
    assert_eq!(m.media_type, Some(MediaType::OciIndex));
    let m = parse_manifest(
        bare.as_bytes(),
        None,
        Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
    )
    .unwrap();
    assert_eq!(m.media_type, Some(MediaType::DockerManifestList));

    let empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    let sig = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"{child}","size":3000}}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{child}","size":7}}}}"#
    );
    let m = parse_manifest(sig.as_bytes(), None, None).unwrap();
    assert_eq!(
        m.artifact_type.as_deref(),
        Some("application/vnd.dev.sigstore.bundle.v0.3+json")
    );
    assert_eq!(m.subject.as_ref().unwrap().digest, child);

    let artifact = format!(
        r#"{{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":"application/spdx+json","blobs":[{{"digest":"{child}","size":11}}],"subject":{{"digest":"{child}"}}}}"#
    );
    let m = parse_manifest(artifact.as_bytes(), None, None).unwrap();
    assert_eq!(m.media_type, Some(MediaType::OciArtifactManifest));
    assert_eq!(m.layers.as_ref().unwrap()[0].size, Some(11));
}

#[test]
fn unsupported_and_broken_manifests_are_typed_errors() {
    let v1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
    assert_eq!(
        parse_manifest(v1, None, None).unwrap_err().code(),
        "unsupported_manifest"
    );
    assert_eq!(
        parse_manifest(b"not json", None, None).unwrap_err().code(),
        "unsupported_manifest"
    );
    assert_eq!(
        parse_manifest(b"{}", None, None).unwrap_err().code(),
        "unsupported_manifest"
    );
    let bad = br#"{"schemaVersion":2,"config":{"digest":"sha256:nope","size":1},"layers":[]}"#;
    let e = parse_manifest(bad, None, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config.digest: \"sha256:nope\" is not a valid digest"
    );
}

#[test]
fn content_fills_a_listed_manifest() {
    let s = acr_api(&[body("GetManifestList.json")]).unwrap();
    let listed = &s.repositories[0].manifests[0];
    let bytes = serde_json::to_vec(&body("GetManifest.json")).unwrap();
    let content = parse_manifest(&bytes, None, None).unwrap();
    let m = with_content(listed, content);
    assert_eq!(m.created_time, listed.created_time);
    assert_eq!(m.layers.as_ref().unwrap().len(), 5);
    assert!(!m.is_shallow());
}
