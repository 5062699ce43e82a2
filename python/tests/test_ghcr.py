"""GitHub Container Registry end to end, from the Python adapter, against the project's GHCR
emulator (`tests/ghcr_emulator.py`: the GitHub Packages REST API and ghcr.io's registry API in
front of a real docker-registry), which enforces GHCR's documented rules."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import regprune
from regprune.registry import Credentials, Transport, crawl

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-07T00:00:00Z"


@pytest.fixture(scope="module")
def ghcr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "ghcr_emulator.py"),
            str(tmp_path_factory.mktemp("ghcr")),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    info = json.loads(proc.stdout.readline())
    try:
        yield info
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)


def state(info: dict[str, Any]) -> dict[str, Any]:
    with urllib.request.urlopen(info["registry"] + "/_emulator/state") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def transport(info: dict[str, Any], token: str | None = None) -> Transport:
    return Transport(info["registry"], Credentials("token", token or info["token"]))


def snapshot(info: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return crawl(transport(info), flavour="ghcr", github_api=info["api"], **kw)


def test_the_packages_of_an_organisation_make_the_snapshot(ghcr: dict[str, Any]) -> None:
    before = state(ghcr)
    snap = snapshot(ghcr, owner=ghcr["org"])
    assert snap["api"] == "ghcr" and snap["untaggedListed"] is True and snap["complete"] is True
    repos = {r["name"]: r for r in snap["repositories"]}
    # The packages listing leaves out its Link header, as GitHub's sometimes does: every page
    # is read until an empty one.
    assert set(repos) == {
        "octo-org/app",
        "octo-org/team/tool",
        "octo-org/solo",
        "octo-org/filler-0",
        "octo-org/filler-1",
        "octo-org/filler-2",
    }
    app = repos["octo-org/app"]
    img = ghcr["images"]["app"]
    ids = {v["digest"]: v["id"] for v in before["versions"] if v["package"] == "octo-org/app"}
    assert {m["digest"]: m["versionId"] for m in app["manifests"]} == ids
    assert {t["name"]: t["digest"] for t in app["tags"]} == {
        "v1": img["index"],
        "latest": img["index"],
        "v0": img["v0"],
    }
    index = next(m for m in app["manifests"] if m["digest"] == img["index"])
    assert [c["digest"] for c in index["manifests"]] == [
        img["amd64"],
        img["arm64"],
        img["attestation"],
    ]
    assert all(m.get("lastUpdateTime") for m in app["manifests"])
    assert repos["octo-org/team/tool"]["visibility"] == "public"
    # Each version's manifest was fetched once: a GET is a download on GHCR.
    after = state(ghcr)
    for v in after["versions"]:
        old = next(o for o in before["versions"] if o["id"] == v["id"])
        if v["package"].startswith("octo-org/"):
            assert v["downloads"] == old["downloads"] + 1, v


def test_delete_untagged_keeps_the_platforms_attestation_and_signature(
    ghcr: dict[str, Any],
) -> None:
    """The multi-arch case snok and ghcr-cleanup-action broke: the tagged index's platform
    images and attestation are untagged versions, and so is its signature."""
    snap = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/app"])
    p = regprune.plan(snap, {"op": "deleteUntagged"}, now=NOW).to_dict()
    img = ghcr["images"]["app"]
    assert [a["digest"] for a in p["actions"]] == [img["dangling"]]
    kept = {r["digest"]: r["reason"]["code"] for r in p["retained"]}
    assert kept == {
        img["amd64"]: "childOfSurvivingIndex",
        img["arm64"]: "childOfSurvivingIndex",
        img["attestation"]: "childOfSurvivingIndex",
        img["signature"]: "referrerOfSurvivingSubject",
    }


def test_the_last_tagged_version_stays_and_public_packages_are_named(ghcr: dict[str, Any]) -> None:
    snap = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/solo", "octo-org/team/tool"])
    p = regprune.plan(
        snap, {"op": "purge", "filter": [".*:.*"], "ago": "1d", "untagged": True}, now=NOW
    ).to_dict()
    solo = ghcr["images"]["solo"]["only"]
    assert solo not in {a["digest"] for a in p["actions"]}
    kept = next(r for r in p["retained"] if r["digest"] == solo)
    assert kept["reason"]["code"] == "registryRefuses"
    assert "last tagged version" in kept["reason"]["message"]
    warning = next(w for w in p["warnings"] if w["code"] == "publicVersionsMayStay")
    assert warning["items"] == ["octo-org/team/tool"]


def test_the_token_owner_is_read_through_user(ghcr: dict[str, Any]) -> None:
    st = len(state(ghcr)["log"])
    snap = snapshot(ghcr, owner=ghcr["user"])
    assert [r["name"] for r in snap["repositories"]] == ["octocat/hello"]
    paths = [e["path"] for e in state(ghcr)["log"][st:]]
    assert any(p.startswith("/api/user/packages?") for p in paths), paths
    assert all(e["auth"] for e in state(ghcr)["log"][st:])


def test_a_token_github_refuses_is_named(ghcr: dict[str, Any]) -> None:
    with pytest.raises(regprune.AuthenticationFailedError) as info:
        crawl(
            transport(ghcr, "ghp_wrong"), flavour="ghcr", github_api=ghcr["api"], owner=ghcr["org"]
        )
    assert "read:packages" in str(info.value)
    assert "ghp_wrong" not in str(info.value)
