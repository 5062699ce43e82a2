//! Replays every saved fuzz input (`fuzz/regressions/<target>/`: crashes `make fuzz` found,
//! minimized, and hand-written hostile inputs) through the fuzz targets' bodies, here in the
//! workspace's own test build (the fuzz crate is a workspace of its own, for `cargo fuzz`).

#[allow(dead_code, missing_docs, clippy::pedantic)]
#[path = "../../fuzz/src/lib.rs"]
mod bodies;

use std::path::Path;

/// A fuzz target's body: any bytes in, panics on a broken property.
type Body = fn(&[u8]);

#[test]
fn every_saved_fuzz_input_still_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let targets: [(&str, Body); 8] = [
        ("snapshot", bodies::snapshot),
        ("import", bodies::import),
        ("manifest", bodies::manifest),
        ("operation", bodies::operation),
        ("acr_command", bodies::acr_command),
        ("filters_durations", bodies::filters_durations),
        ("headers", bodies::headers),
        ("registry_bodies", bodies::registry_bodies),
    ];
    let mut replayed = 0;
    for (name, body) in targets {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            body(&std::fs::read(&path).expect("readable input"));
            replayed += 1;
        }
    }
    assert!(
        replayed >= 48,
        "{replayed} saved inputs under {}",
        root.display()
    );
}
