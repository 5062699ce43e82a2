"""Every core error code arrives as its own class, with the variant's fields."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import regprune
from regprune import _native

D0 = "sha256:" + "0" * 64
D1 = "sha256:" + "1" * 64


def snap(**repo: Any) -> dict[str, Any]:
    return {"repositories": [{"name": "a", **repo}]}


def failures(example: Path) -> dict[str, Callable[[], object]]:
    ex = str(example)
    return {
        "invalid_digest": lambda: regprune.plan(
            snap(tags=[{"name": "t", "digest": "sha256:xyz"}]), {"op": "deleteUntagged"}
        ),
        "invalid_repository_name": lambda: regprune.plan(
            {"repositories": [{"name": "A"}]}, {"op": "deleteUntagged"}
        ),
        "invalid_tag": lambda: regprune.plan(
            snap(tags=[{"name": "-x", "digest": D0}]), {"op": "deleteUntagged"}
        ),
        "invalid_reference": lambda: regprune.plan(
            ex, {"op": "deleteImage", "image": "acr-helloworld"}
        ),
        "invalid_timestamp": lambda: regprune.plan(ex, {"op": "deleteUntagged"}, now="yesterday"),
        "invalid_json": lambda: regprune.plan(b"{not json", {"op": "deleteUntagged"}),
        "dangling_tag": lambda: regprune.plan(
            snap(tags=[{"name": "t", "digest": D0}]), {"op": "deleteUntagged"}
        ),
        "duplicate": lambda: regprune.plan(
            {"repositories": [{"name": "a"}, {"name": "a"}]}, {"op": "deleteUntagged"}
        ),
        "digest_mismatch": lambda: regprune.parse_manifest(b'{"manifests":[]}', digest=D0),
        "unsupported_manifest": lambda: regprune.parse_manifest(b'{"schemaVersion":1}'),
        "repository_not_found": lambda: regprune.plan(
            ex, {"op": "deleteRepository", "repository": "nope"}
        ),
        "image_not_found": lambda: regprune.plan(
            ex, {"op": "deleteImage", "image": "acr-helloworld:v9"}
        ),
        "invalid_operation": lambda: regprune.plan(
            ex, {"op": "untag", "image": f"acr-helloworld@{D0}"}
        ),
        "invalid_pattern": lambda: regprune.plan(
            ex, {"op": "purge", "filter": ["a:("], "ago": "1d"}
        ),
        "pattern_too_complex": lambda: regprune.plan(
            snap(
                manifests=[{"digest": D1}],
                tags=[{"name": "a" * 60, "digest": D1, "lastUpdateTime": "2020-01-01T00:00:00Z"}],
            ),
            {"op": "acrPurge", "command": "acr purge --filter 'a:(a+)+(?=b)' --ago 1d"},
        ),
        "invalid_duration": lambda: regprune.plan(
            ex, {"op": "purge", "filter": ["a:.*"], "ago": "2h3d"}
        ),
        "invalid_purge_command": lambda: regprune.plan(
            ex, {"op": "acrPurge", "command": "acr purge --force"}
        ),
        "limit_exceeded": lambda: regprune.plan(
            ex,
            {
                "op": "policy",
                "policy": {
                    "rules": [{"name": "all", "action": "delete"}],
                    "limits": {"maxDeletions": 1},
                },
            },
        ),
    }


def registry_answers(
    status: int, *, failure: str | None = None, body: bytes = b"{}", creds: bool = False
) -> Callable[[], object]:
    """A crawl whose catalog request gets one answer (every retry the same)."""

    def crawl() -> object:
        options = json.dumps({"registry": "reg.example", "flavour": "oci", "maxAttempts": 2})
        access = {"origin": "https://reg.example", "looked": ["nowhere"]}
        if creds:
            access["credentials"] = {"username": "u", "password": "p", "source": "a test"}
        s = _native.Session.crawl(options.encode(), json.dumps(access).encode())
        now = 0.0
        while not s.is_done():
            req = s.next_request(now)
            if req is None:
                now = s.next_wakeup() or now + 1
                continue
            s.handle_response(req[0], status, [], body, now, failure)
        return s.result_json()

    return crawl


def cli_failure() -> object:
    return _native.cli_parse(["plan", "--concurrency", "abc"])


REGISTRY_FAILURES = {
    "registry_unreachable": registry_answers(0, failure="ENOTFOUND"),
    "credentials_missing": registry_answers(401),
    "authentication_failed": registry_answers(401, creds=True),
    "forbidden": registry_answers(403),
    "not_found": registry_answers(404),
    "unsupported_by_registry": registry_answers(405),
    "rate_limited": registry_answers(429),
    "server_error": registry_answers(503),
    "protocol_violation": registry_answers(200, body=b"not json"),
}


def test_every_code_has_one_class() -> None:
    assert sorted(regprune.ERROR_CODES) == sorted(regprune.ERROR_CLASSES)
    classes = set(regprune.ERROR_CLASSES.values())
    assert len(classes) == len(regprune.ERROR_CODES)
    for code, cls in regprune.ERROR_CLASSES.items():
        assert cls.code == code
        assert issubclass(cls, regprune.RegpruneError)
    assert issubclass(regprune.InvalidDigestError, ValueError)
    assert not issubclass(regprune.LimitExceededError, ValueError)


def test_every_code_is_raised_as_its_class(example: Path) -> None:
    cases = {**failures(example), **REGISTRY_FAILURES, "invalid_arguments": cli_failure}
    assert sorted(cases) == sorted(regprune.ERROR_CODES)
    for code, fail in cases.items():
        with pytest.raises(regprune.ERROR_CLASSES[code]) as info:
            fail()
        e = info.value
        assert type(e) is regprune.ERROR_CLASSES[code], (code, type(e), e)
        assert e.code == code
        assert e.path and e.path in str(e), (code, str(e))
        registry_error = code in REGISTRY_FAILURES
        assert isinstance(e, regprune.RegistryError) == registry_error, code
        assert isinstance(e, ValueError) != registry_error or code == "limit_exceeded", code
        assert e.exit_code == (2 if not registry_error else e.exit_code), code
        assert e.exit_code in ((3, 4, 5) if registry_error else (2,)), (code, e.exit_code)


def test_fields_of_the_variant_are_attributes(example: Path) -> None:
    with pytest.raises(regprune.InvalidReferenceError) as info:
        regprune.plan(example, {"op": "deleteImage", "image": "web"})
    assert info.value.path == "operation.image"
    assert info.value.value == "web"  # type: ignore[attr-defined]
    with pytest.raises(regprune.LimitExceededError) as limit:
        failures(example)["limit_exceeded"]()
    assert limit.value.allowed == 1  # type: ignore[attr-defined]
    assert limit.value.limit == "maxDeletions"  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(limit.value))
    assert type(copy) is regprune.LimitExceededError and copy.path == limit.value.path


def test_naive_datetime_is_refused(example: Path) -> None:
    import datetime

    with pytest.raises(regprune.InvalidTimestampError):
        regprune.plan(example, {"op": "deleteUntagged"}, now=datetime.datetime(2026, 1, 1))


def test_deeply_nested_documents_are_typed_errors_not_crashes() -> None:
    deep_value = b'{"format":"acrApi","bodies":[' + b"[" * 100_000 + b"]"
    for doc in [b"[" * 200_000, b'{"repositories":' + b"[" * 100_000, deep_value]:
        with pytest.raises(regprune.errors.InvalidJsonError):
            if doc.startswith(b'{"format"'):
                regprune.import_snapshot(doc)
            else:
                regprune.plan(doc, {"op": "deleteUntagged"})


def _huge_snapshot(size: int, layers: int) -> str:
    blobs = ",".join(
        f'{{"mediaType":"application/vnd.oci.image.layer.v1.tar",'
        f'"digest":"sha256:{i + 1:064x}","size":{size}}}'
        for i in range(layers)
    )
    return (
        '{"registry":"r","repositories":[{"name":"app","manifests":[{"digest":"sha256:'
        + f"{0xABC:064x}"
        + '","mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"layers":['
        + blobs
        + ']}],"tags":[]}]}'
    )


def test_sizes_never_wrap_a_total() -> None:
    """Issue 24, finding 12: an impossible size is a typed error naming it; sizes that add up
    past 2^64 saturate there and the plan is not called exact (it wrapped before, exact)."""
    with pytest.raises(regprune.InvalidJsonError) as e:
        regprune.plan(_huge_snapshot(2**64 - 6, 1), {"op": "deleteRepository", "repository": "app"})
    assert "impossible size 18446744073709551610" in str(e.value)
    plan = regprune.plan(
        _huge_snapshot(2**53 - 1, 3000), {"op": "deleteRepository", "repository": "app"}
    )
    assert plan.reclaim.total_bytes == 2**64 - 1
    assert not plan.reclaim.exact
    assert any("2^64" in r for r in plan.reclaim.inexact_reasons)
