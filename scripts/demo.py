"""`make demo`: the whole job against a real registry on 127.0.0.1.

Starts a CNCF distribution registry, pushes the ACR guide's example images (acr-helloworld
with `latest` and `v3` on one image, `v2` on another, and a re-pushed `latest` that left a
dangling manifest; hello-api sharing the base layer), reads its storage into a snapshot,
previews a purge with its reclaimable bytes, executes it, runs the registry's garbage
collection, and shows that the bytes freed equal the preview.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python" / "tests"))

import regprune
from registry_fixture import Client, RegistryServer
from regprune import registry


def push_seed(c: Client) -> None:
    base = b"alpine-base-layer" * 40_000
    assets = b"hello-assets" * 20_000
    c.image("acr-helloworld", ["latest"], [base, b"hello-v1" * 60_000], "2018-07-11T21:32:21Z")
    c.image("acr-helloworld", ["v2"], [base, b"hello-v2" * 61_000, assets], "2018-07-12T15:50:53Z")
    # Re-pushing `latest` leaves the first image dangling, as the guide describes.
    c.image("acr-helloworld", ["latest", "v3"], [base, b"hello-v3" * 62_000, assets], "2018-07-12T15:52:00Z")
    c.image("hello-api", ["1.0"], [base, b"api" * 90_000], "2019-02-01T10:00:00Z")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = RegistryServer(Path(tmp))
        server.start()
        try:
            push_seed(Client(server.url))
            print(f"registry on {server.url}: pushed the ACR guide's example images\n")
            server.stop()
            snapshot = registry.read_storage(server.storage, f"127.0.0.1:{server.port}")
            server.start()
            operation = {"op": "purge", "filter": ["acr-helloworld:.*"], "ago": "1h", "keep": 1, "untagged": True}
            later = datetime.now(UTC) + timedelta(days=1)
            plan = regprune.plan(snapshot, operation, now=later)
            print(plan.render_text())
            report = registry.execute(plan.to_json(), registry.Transport(server.url), journal_path=str(Path(tmp) / "journal.jsonl"))
            for o in report["outcomes"]:
                print(f"{o['outcome']:<12} {o['target']}")
            freed = server.garbage_collect()
            print(f"\ngarbage collection freed {freed} bytes; the plan said {plan.reclaim.total_bytes} "
                  f"({'equal' if freed == plan.reclaim.total_bytes else 'DIFFERENT'})")
            return 0 if freed == plan.reclaim.total_bytes else 1
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
