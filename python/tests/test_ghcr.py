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
from registry_fixture import emulator
from store_util import damage, stored

import regprune
from regprune.registry import Credentials, Transport, crawl

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-07T00:00:00Z"


@pytest.fixture(scope="module")
def ghcr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with emulator("ghcr_emulator.py", tmp_path_factory.mktemp("ghcr")) as info:
        yield info


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


def configure(info: dict[str, Any], **cfg: Any) -> None:
    req = urllib.request.Request(
        info["registry"] + "/_emulator/config", data=json.dumps(cfg).encode(), method="POST"
    )
    urllib.request.urlopen(req).close()


def version_of(info: dict[str, Any], digest: str) -> dict[str, Any]:
    return next(v for v in state(info)["versions"] if v["digest"] == digest)


def test_execute_deletes_versions_by_id_and_undo_restores_them(
    ghcr: dict[str, Any], tmp_path: Path
) -> None:
    from regprune.registry import execute, undo

    snap = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/app"])
    p = regprune.plan(snap, {"op": "deleteUntagged"}, now=NOW)
    journal = tmp_path / "journal.jsonl"
    report = execute(p.to_json(), transport(ghcr), journal_path=str(journal), flavour="ghcr",
                     github_api=ghcr["api"])  # fmt: skip
    img = ghcr["images"]["app"]
    assert [o["outcome"] for o in report["outcomes"]] == ["done"], report
    assert version_of(ghcr, img["dangling"])["deleted"] is True
    # The multi-arch image is whole: no platform, attestation or signature version went.
    for k in ("index", "amd64", "arm64", "attestation", "signature"):
        assert version_of(ghcr, img[k])["deleted"] is False, k
    entry = [json.loads(x) for x in journal.read_text().splitlines() if '"manifest"' in x][-1]
    assert entry["version"].endswith(f"/versions/{version_of(ghcr, img['dangling'])['id']}")
    back = undo(str(journal), transport(ghcr))
    assert [o["outcome"] for o in back["results"]] == ["restored"], back
    assert version_of(ghcr, img["dangling"])["deleted"] is False


def test_ghcr_refusals_and_drift_skip_without_failing_the_rest(ghcr: dict[str, Any]) -> None:
    from regprune.registry import execute

    tool = ghcr["images"]["team/tool"]
    hello = ghcr["images"]["hello"]
    snap = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/team/tool"])
    p = regprune.plan(snap, {"op": "deleteUntagged"}, now=NOW)
    # Past the plan: the public version was downloaded more than 5,000 times.
    req = urllib.request.Request(
        ghcr["registry"] + "/_emulator/downloads",
        data=json.dumps({"digest": tool["dangling"], "downloads": 6000}).encode(),
        method="POST",
    )
    urllib.request.urlopen(req).close()
    report = execute(p.to_json(), transport(ghcr), flavour="ghcr", github_api=ghcr["api"])
    (o,) = report["outcomes"]
    assert o["outcome"] == "skipped" and "5000 downloads" in o["detail"], o
    assert version_of(ghcr, tool["dangling"])["deleted"] is False
    # Drift: a tag now points at the manifest the plan deletes as untagged.
    snap = snapshot(ghcr, owner=ghcr["user"], repositories=["octocat/hello"])
    p = regprune.plan(snap, {"op": "deleteUntagged"}, now=NOW)
    assert [a["digest"] for a in p.to_dict()["actions"]] == [hello["dangling"]]
    t = transport(ghcr)
    status, _, _, _ = t.send(
        "PUT", f"{ghcr['registry']}/v2/octocat/hello/manifests/pinned", [], b""
    )
    assert status == 401  # the registry side wants a push token: set the tag through it
    push_tag(ghcr, "octocat/hello", hello["dangling"], "pinned")
    report = execute(p.to_json(), transport(ghcr), flavour="ghcr", github_api=ghcr["api"])
    (o,) = report["outcomes"]
    assert o["outcome"] == "skipped" and "pinned" in o["detail"], o
    assert version_of(ghcr, hello["dangling"])["deleted"] is False


def pusher(info: dict[str, Any], repo: str) -> tuple[Any, dict[str, str]]:
    """A connection to the emulator's registry side and the headers of a push token for
    `repo`, got as a client gets them (any user name, the token as the password)."""
    import base64
    import http.client

    basic = base64.b64encode(f"token:{info['token']}".encode()).decode()
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(info["registry"]).netloc)
    conn.request(
        "GET",
        f"/token?service=ghcr.emu&scope=repository:{repo}:pull,push",
        headers={"Authorization": f"Basic {basic}"},
    )
    token = json.loads(conn.getresponse().read())["token"]
    return conn, {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.oci.image.manifest.v1+json",
    }


def push_tag(info: dict[str, Any], repo: str, digest: str, tag: str) -> None:
    """Points `tag` at `digest` through the emulator's registry side, as a client would."""
    conn, auth = pusher(info, repo)
    conn.request("GET", f"/v2/{repo}/manifests/{digest}", headers=auth)
    r = conn.getresponse()
    body, media_type = r.read(), r.getheader("Content-Type")
    conn.request("PUT", f"/v2/{repo}/manifests/{tag}", body=body,
                 headers={**auth, "Content-Type": media_type})  # fmt: skip
    assert conn.getresponse().status == 201
    conn.close()


def push_variants(info: dict[str, Any], repo: str, tag: str, n: int) -> list[str]:
    """Pushes `n` untagged copies of `repo:tag`'s manifest (annotated apart) by digest."""
    import hashlib

    conn, auth = pusher(info, repo)
    conn.request("GET", f"/v2/{repo}/manifests/{tag}", headers=auth)
    doc = json.loads(conn.getresponse().read())
    out = []
    for k in range(n):
        body = json.dumps({**doc, "annotations": {"copy": str(k)}}).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        conn.request("PUT", f"/v2/{repo}/manifests/{digest}", body=body,
                     headers={**auth, "Content-Type": doc["mediaType"]})  # fmt: skip
        assert conn.getresponse().read() is not None
        out.append(digest)
    conn.close()
    return out


def test_deletions_wait_for_githubs_write_budget(ghcr: dict[str, Any]) -> None:
    """Past the minute's budget GitHub answers 403 with retry-after: the run waits and goes
    on, and no deletion fails."""
    from regprune.registry import execute

    copies = push_variants(ghcr, "octo-org/filler-0", "latest", 3)
    snap = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/filler-0"])
    p = regprune.plan(snap, {"op": "deleteUntagged"}, now=NOW)
    assert sorted(a["digest"] for a in p.to_dict()["actions"]) == sorted(copies)
    configure(ghcr, points_per_minute=10, window=2)  # two deletions per two seconds
    try:
        report = execute(p.to_json(), transport(ghcr), flavour="ghcr", github_api=ghcr["api"])
    finally:
        configure(ghcr, points_per_minute=900, window=60)
    assert [o["outcome"] for o in report["outcomes"]] == ["done"] * 3, report
    assert sum(o["retries"] for o in report["outcomes"]) >= 1, "the budget was hit and waited for"
    assert all(version_of(ghcr, d)["deleted"] for d in copies)


def test_the_cli_reads_ghcr_with_github_token(ghcr: dict[str, Any], tmp_path: Path) -> None:
    """`regprune snapshot --flavour ghcr` with the token in GITHUB_TOKEN, as in a workflow."""
    import os

    out = tmp_path / "snap.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGPRUNE_", "GH_", "GITHUB_"))}
    env.update(GITHUB_TOKEN=ghcr["token"], DOCKER_CONFIG=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "regprune", "snapshot", "--registry", ghcr["registry"],
         "--flavour", "ghcr", "--owner", ghcr["org"], "--github-api", ghcr["api"],
         "--repository", "octo-org/app", "-o", str(out)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    snap = json.loads(out.read_text())
    assert [r["name"] for r in snap["repositories"]] == ["octo-org/app"]
    assert ghcr["token"] not in done.stdout + done.stderr


def test_untag_moves_the_tag_to_a_placeholder_version_and_deletes_that(
    ghcr: dict[str, Any], tmp_path: Path
) -> None:
    """GHCR deletes versions, not tags: `latest` leaves the index (which keeps `v1`) for a
    placeholder version that is then deleted; undo points `latest` back at the index."""
    from regprune.registry import execute, undo

    img = ghcr["images"]["app"]
    snap = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/app"])
    p = regprune.plan(snap, {"op": "untag", "image": "octo-org/app:latest"}, now=NOW)
    assert [a["type"] for a in p.to_dict()["actions"]] == ["untag"]
    journal = tmp_path / "journal.jsonl"
    report = execute(p.to_json(), transport(ghcr), journal_path=str(journal), flavour="ghcr",
                     github_api=ghcr["api"])  # fmt: skip
    (o,) = report["outcomes"]
    assert o["outcome"] == "done" and "placeholder" in o["detail"], o
    index = version_of(ghcr, img["index"])
    assert index["tags"] == ["v1"] and index["deleted"] is False
    placeholders = [
        v for v in state(ghcr)["versions"]
        if v["package"] == "octo-org/app" and v["digest"] not in img.values()
    ]  # fmt: skip
    assert placeholders and all(v["deleted"] for v in placeholders), placeholders
    back = undo(str(journal), transport(ghcr))
    assert [r["outcome"] for r in back["results"]] == ["restored"], back
    assert sorted(version_of(ghcr, img["index"])["tags"]) == ["latest", "v1"]


def test_the_last_tag_of_a_package_is_not_untagged(ghcr: dict[str, Any]) -> None:
    from regprune.registry import execute

    only = ghcr["images"]["solo"]["only"]
    snap = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/solo"])
    p = regprune.plan(snap, {"op": "untag", "image": "octo-org/solo:only"}, now=NOW)
    report = execute(p.to_json(), transport(ghcr), flavour="ghcr", github_api=ghcr["api"])
    (o,) = report["outcomes"]
    assert o["outcome"] == "skipped" and "last tag" in o["detail"], o
    assert version_of(ghcr, only)["tags"] == ["only"]


def test_a_second_crawl_with_the_saved_manifests_downloads_nothing(
    ghcr: dict[str, Any], tmp_path: Path
) -> None:
    """On GHCR every manifest GET is a download of its version: a crawl handed the manifests
    an earlier one saved fetches none again (they are immutable by digest), and the snapshot
    is the same."""
    store = tmp_path / "manifests"
    first = snapshot(
        ghcr, owner=ghcr["org"], repositories=["octo-org/app"], save_manifests=str(store)
    )
    before = {v["id"]: v["downloads"] for v in state(ghcr)["versions"]}
    again = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/app"], manifests=str(store))
    after = {v["id"]: v["downloads"] for v in state(ghcr)["versions"]}
    assert after == before, "no manifest was fetched again"
    assert again == first
    # Saved bytes that do not hash to their digest are not used: that one manifest is
    # downloaded again (one download more in all), and the snapshot is the same.
    victim = next(
        d
        for d in stored(store)
        if d in {m["digest"] for r in first["repositories"] for m in r["manifests"]}
    )
    damage(store, victim)
    third = snapshot(ghcr, owner=ghcr["org"], repositories=["octo-org/app"], manifests=str(store))
    later = {v["id"]: v["downloads"] for v in state(ghcr)["versions"]}
    assert third == first
    assert sum(later.values()) == sum(before.values()) + 1, (before, later)


def test_without_an_owner_or_packages_the_crawl_is_refused(ghcr: dict[str, Any]) -> None:
    with pytest.raises(regprune.InvalidOperationError) as info:
        crawl(transport(ghcr), flavour="ghcr", github_api=ghcr["api"])
    assert "--owner" in str(info.value)
