//! Replays every saved input in `fuzz/regressions/<target>/` (crashes found by `make fuzz`,
//! minimized, and hand-written hostile inputs) through the target's body, on stable Rust.

use std::path::Path;

#[test]
fn every_saved_input_still_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let targets: [(&str, fn(&[u8])); 8] = [
        ("snapshot", regprune_fuzz::snapshot),
        ("import", regprune_fuzz::import),
        ("manifest", regprune_fuzz::manifest),
        ("operation", regprune_fuzz::operation),
        ("acr_command", regprune_fuzz::acr_command),
        ("filters_durations", regprune_fuzz::filters_durations),
        ("headers", regprune_fuzz::headers),
        ("registry_bodies", regprune_fuzz::registry_bodies),
    ];
    let mut replayed = 0;
    for (name, body) in targets {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            body(&std::fs::read(&path).expect("readable input"));
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no saved inputs under {}", root.display());
}
