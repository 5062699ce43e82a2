"""Docker Hub end to end, from the Python adapter, against the project's Docker Hub emulator
(`tests/dockerhub_emulator.py`: Hub's API and the registry with token auth in front of a real
docker-registry, enforcing Hub's documented rules)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_fixture import emulator

import regprune
from regprune.registry import Credentials, Transport, crawl

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-07T00:00:00Z"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with emulator(
        "dockerhub_emulator.py", tmp_path_factory.mktemp("hub"), "--page-cap", "2"
    ) as info:
        yield info


def state(info: dict[str, Any]) -> dict[str, Any]:
    with urllib.request.urlopen(info["registry"] + "/_emulator/state") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def snapshot(info: dict[str, Any], credentials: bool = True, **kw: Any) -> dict[str, Any]:
    creds = Credentials(info["username"], info["token"]) if credentials else None
    return crawl(Transport(info["registry"], creds), flavour="dockerhub", hub_api=info["hub"], **kw)


def test_a_namespace_makes_the_snapshot_with_tag_times_and_platforms(hub: dict[str, Any]) -> None:
    pulls = state(hub)["pulls"]
    snap = snapshot(hub, owner="hubuser")
    assert snap["api"] == "dockerHub" and snap["untaggedListed"] is False
    repos = {r["name"]: r for r in snap["repositories"]}
    # Pages of two: every page of the listing was followed through `next`; the private
    # repository shows only with the Hub login.
    assert set(repos) == {"hubuser/app", "hubuser/web", "hubuser/tools", "hubuser/zz-last"}
    app = repos["hubuser/app"]
    img = hub["images"]["app"]
    assert {t["name"]: t["digest"] for t in app["tags"]} == {
        "1.0": img["index"],
        "latest": img["index"],
        "0.9": img["0.9"],
    }
    digests = {m["digest"] for m in app["manifests"]}
    assert digests == {img["index"], img["amd64"], img["arm64"], img["0.9"]}
    times = {m["digest"]: m["lastUpdateTime"] for m in app["manifests"]}
    assert times[img["amd64"]] == times[img["index"]], "a child takes its index's push time"
    assert times[img["0.9"]] < times[img["index"]]
    # One GET per manifest (Hub counts GETs against the pull limit, not HEADs).
    assert state(hub)["pulls"] - pulls == sum(len(r["manifests"]) for r in snap["repositories"])


def test_anonymous_reads_only_public_repositories(hub: dict[str, Any]) -> None:
    snap = snapshot(hub, credentials=False, owner="hubuser")
    assert "hubuser/app" not in {r["name"] for r in snap["repositories"]}
    assert "hubuser/web" in {r["name"] for r in snap["repositories"]}


def test_plans_say_untagged_manifests_cannot_be_listed(hub: dict[str, Any]) -> None:
    snap = snapshot(hub, repositories=["hubuser/app"])
    p = regprune.plan(snap, {"op": "purge", "filter": ["hubuser/app:0\\.9"], "ago": "30d"}, now=NOW)
    d = p.to_dict()
    assert [a["digest"] for a in d["actions"]] == [hub["images"]["app"]["0.9"]]
    assert d["reclaim"]["exact"] is False
    assert any("untagged" in why for why in d["reclaim"]["inexactReasons"]), d["reclaim"]


def test_a_wrong_token_is_refused_by_name(hub: dict[str, Any]) -> None:
    t = Transport(hub["registry"], Credentials(hub["username"], "dckr_pat_wrong"))
    with pytest.raises(regprune.AuthenticationFailedError) as info:
        crawl(t, flavour="dockerhub", hub_api=hub["hub"], owner="hubuser")
    assert "dckr_pat_wrong" not in str(info.value)


def test_execute_deletes_tags_through_hub_then_the_manifest(
    hub: dict[str, Any], tmp_path: Path
) -> None:
    """A tagged image goes as Hub allows: its tags through Hub's API, then the manifest by
    digest; undo pushes both back; an untag removes only the tag."""
    from regprune.registry import execute, undo

    img = hub["images"]["app"]
    creds = Credentials(hub["username"], hub["token"])
    snap = snapshot(hub, repositories=["hubuser/app"])
    p = regprune.plan(snap, {"op": "purge", "filter": ["hubuser/app:0\\.9"], "ago": "30d"}, now=NOW)
    journal = tmp_path / "journal.jsonl"
    report = execute(p.to_json(), Transport(hub["registry"], creds), flavour="dockerhub",
                     hub_api=hub["hub"], journal_path=str(journal))  # fmt: skip
    assert [o["outcome"] for o in report["outcomes"]] == ["done"], report
    st = state(hub)
    assert f"hubuser/app@{img['0.9']}" in st["deleted"]
    assert "hubuser/app:0.9" not in st["tags"]
    back = undo(str(journal), Transport(hub["registry"], creds))
    assert [r["outcome"] for r in back["results"]] == ["restored"], back
    assert state(hub)["tags"]["hubuser/app:0.9"] == img["0.9"]
    # Untag: only the tag goes.
    snap = snapshot(hub, repositories=["hubuser/app"])
    p = regprune.plan(snap, {"op": "untag", "image": "hubuser/app:latest"}, now=NOW)
    report = execute(p.to_json(), Transport(hub["registry"], creds), flavour="dockerhub",
                     hub_api=hub["hub"])  # fmt: skip
    assert [o["outcome"] for o in report["outcomes"]] == ["done"], report
    st = state(hub)
    assert "hubuser/app:latest" not in st["tags"] and st["tags"]["hubuser/app:1.0"] == img["index"]
    assert f"hubuser/app@{img['index']}" not in st["deleted"]
