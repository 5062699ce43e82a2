"""The transport on a real network of 127.0.0.1: a registry behind TLS with its own CA
(``SSL_CERT_FILE``), an HTTP CONNECT proxy (``HTTPS_PROXY``, ``NO_PROXY``), and a name that
does not resolve. The fixture is ``tests/netfixture.py``, shared with the Node suite."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from regprune import registry
from regprune.errors import RegistryUnreachableError

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "netfixture.py"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("net")
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURE), str(directory)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    info: dict[str, str] = json.loads(proc.stdout.readline())
    try:
        yield info
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                 "NO_PROXY", "no_proxy", "REGPRUNE_USERNAME", "REGPRUNE_PASSWORD"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")


def connects(net: dict[str, str]) -> list[str]:
    with urllib.request.urlopen(net["proxy"] + "/connects", timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_a_certificate_from_an_unknown_ca_is_unreachable(net: dict[str, str]) -> None:
    with pytest.raises(RegistryUnreachableError) as e:
        registry.crawl(registry.Transport(net["registry"]))
    assert "TLS" in str(e.value) and e.value.exit_code == 3
    assert e.value.path == net["registry"].split("://")[1]


def test_ssl_cert_file_is_trusted(net: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", net["ca"])
    assert registry.crawl(registry.Transport(net["registry"]))["repositories"] == []


def test_https_proxy_tunnels_and_no_proxy_bypasses(
    net: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", net["ca"])
    monkeypatch.setenv("HTTPS_PROXY", net["proxy"])
    before = len(connects(net))
    assert registry.crawl(registry.Transport(net["registry"]))["repositories"] == []
    tunnelled = connects(net)[before:]
    assert tunnelled and set(tunnelled) == {net["registry"].split("://")[1]}
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    before = len(connects(net))
    assert registry.crawl(registry.Transport(net["registry"]))["repositories"] == []
    assert len(connects(net)) == before


def test_http_proxy_tunnels_plain_http_too(
    net: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", net["proxy"])
    before = len(connects(net))
    assert registry.crawl(registry.Transport(net["plain"]))["repositories"] == []
    assert set(connects(net)[before:]) == {net["plain"].split("://")[1]}


def test_a_name_that_does_not_resolve_fails_at_once_as_unreachable() -> None:
    with pytest.raises(RegistryUnreachableError) as e:
        registry.crawl(registry.Transport("https://regprune-test.invalid"))
    assert e.value.path == "regprune-test.invalid"
    assert "does not resolve" in str(e.value) and e.value.exit_code == 3
    assert "/acr/" not in str(e.value)
