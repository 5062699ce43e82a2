"""Authentication against a token-protected registry on 127.0.0.1 (anonymous challenge, basic
credentials, ACR refresh tokens, ~/.docker/config.json), and secrets never shown."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from regprune import registry
from regprune.cli import main

SECRET = "s3cret-Pa55word"
REFRESH = "acr-refresh-token-xyz"


class Handler(BaseHTTPRequestHandler):
    tokens_issued: list[dict[str, str]] = []  # noqa: RUF012 - shared test state
    # What the token service issues, and the Authorization headers the registry was shown.
    token: object = "TOKEN-ok"
    presented: list[str] = []  # noqa: RUF012 - shared test state

    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        if (
            self.path == "/oauth2/token"
            and form.get("refresh_token") == REFRESH
            and form.get("grant_type") == "refresh_token"
        ):
            Handler.tokens_issued.append({"via": "refresh", "scope": form.get("scope", "")})
            self.reply(200, {"access_token": Handler.token})
        else:
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/oauth2/token":
            q = dict(urllib.parse.parse_qsl(url.query))
            expected = "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()
            if self.headers.get("Authorization") == expected:
                Handler.tokens_issued.append({"via": "basic", "scope": q.get("scope", "")})
                self.reply(200, {"token": Handler.token})
            else:
                self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            return
        if url.path.startswith("/acr/"):
            self.reply(404, {})
            return
        if self.headers.get("Authorization"):
            Handler.presented.append(self.headers["Authorization"])
        if self.headers.get("Authorization") != "Bearer TOKEN-ok":
            port = self.server.server_address[1]
            challenge = f'Bearer realm="http://127.0.0.1:{port}/oauth2/token",service="test.registry",scope="registry:catalog:*"'
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge})
            return
        if url.path == "/v2/_catalog":
            self.reply(200, {"repositories": []})
        else:
            self.reply(404, {})


@pytest.fixture
def server() -> Iterator[str]:
    Handler.tokens_issued = []
    Handler.token = "TOKEN-ok"
    Handler.presented = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def test_bearer_challenge_with_basic_credentials(server: str) -> None:
    t = registry.Transport(server, registry.Credentials("admin", SECRET))
    snap = registry.crawl(t)
    assert snap["repositories"] == []
    assert Handler.tokens_issued[0] == {"via": "basic", "scope": "registry:catalog:*"}


def test_without_credentials_the_crawl_fails_clearly(server: str) -> None:
    with pytest.raises(Exception, match="401"):
        registry.crawl(registry.Transport(server))


@pytest.mark.parametrize(
    "token", ["TOKEN-ok\r\nX-Injected: 1", "TOKEN ok", 12345, "", ["TOKEN-ok"]]
)
def test_a_malformed_token_from_the_token_service_is_not_used(server: str, token: object) -> None:
    Handler.token = token
    t = registry.Transport(server, registry.Credentials("admin", SECRET))
    with pytest.raises(Exception, match="401"):
        registry.crawl(t)
    assert Handler.tokens_issued, "the token service was asked"
    assert Handler.presented == [], "no bearer token went to the registry"


def test_acr_refresh_token_is_exchanged_with_post(server: str) -> None:
    t = registry.Transport(server, registry.Credentials(registry.ACR_REFRESH_USER, REFRESH))
    registry.crawl(t)
    assert Handler.tokens_issued == [{"via": "refresh", "scope": "registry:catalog:*"}]


def test_docker_config_auths_are_used(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = server.split("://")[1]
    (tmp_path / "config.json").write_text(json.dumps({"auths": {host: {"identitytoken": REFRESH}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("REGPRUNE_USERNAME", raising=False)
    monkeypatch.delenv("REGPRUNE_PASSWORD", raising=False)
    creds = registry.Credentials.from_env(None, None, host)
    assert creds.username == registry.ACR_REFRESH_USER
    assert main(["snapshot", "--registry", server]) == 0


def test_secrets_never_appear_in_output_or_files(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "snap.json"
    assert (
        main(
            [
                "snapshot",
                "--registry",
                server,
                "--username",
                "admin",
                "--password",
                SECRET,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "snapshot",
                "--registry",
                server,
                "--username",
                "admin",
                "--password",
                "wrong-" + SECRET,
            ]
        )
        != 0
    )
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, out.read_text()):
        assert SECRET not in text and "TOKEN-ok" not in text
    assert SECRET not in repr(registry.Credentials("admin", SECRET))


def test_challenges_are_parsed_by_the_core_and_plain_http_realms_get_no_credentials() -> None:
    from regprune import _native

    parsed = _native.parse_challenge(
        'Bearer realm="https://a.io/t",service="r",scope="repository:x:pull,delete"'
    )
    assert parsed == {
        "scheme": "bearer",
        "realm": "https://a.io/t",
        "service": "r",
        "scope": "repository:x:pull,delete",
    }
    assert "realm" not in (_native.parse_challenge('Bearer realm="file:///etc/passwd"') or {})
    assert _native.parse_challenge("Bearer\r\nX: y") is None
    t = registry.Transport("http://127.0.0.1:9", registry.Credentials("admin", SECRET))
    sent: list[str] = []
    t._raw = lambda method, url, headers, body=None: (
        sent.append(url),
        (200, [], b'{"token":"t"}'),
    )[1]  # type: ignore[method-assign]
    assert (
        t._bearer({"realm": "http://evil.example/token", "service": "r"}, "registry:catalog:*")
        is None
    )
    assert sent == [], "no request, so no password, goes to a plain-HTTP token service elsewhere"
