"""Authentication against a token-protected registry on 127.0.0.1 (anonymous challenge, basic
credentials, ACR refresh tokens, ~/.docker/config.json), and secrets never shown."""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import regprune
from regprune import registry
from regprune.cli import main
from regprune.errors import AuthenticationFailedError, CredentialsMissingError, RegistryError

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
            expected = "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()  # UTF-8
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


def test_without_credentials_the_crawl_says_where_it_looked(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("REGPRUNE_USERNAME", raising=False)
    monkeypatch.delenv("REGPRUNE_PASSWORD", raising=False)
    with pytest.raises(CredentialsMissingError) as e:
        registry.crawl(registry.Transport(server))
    assert e.value.status == 401 and e.value.exit_code == 4
    assert "REGPRUNE_USERNAME/REGPRUNE_PASSWORD: not set" in str(e.value)
    assert f"{tmp_path}/config.json: no such file" in str(e.value)


def test_a_wrong_password_is_not_missing_credentials(server: str) -> None:
    with pytest.raises(AuthenticationFailedError) as e:
        registry.crawl(registry.Transport(server, registry.Credentials("admin", "nope")))
    assert isinstance(e.value, RegistryError) and not isinstance(e.value, ValueError)
    assert "credentials from --username/--password were refused" in str(e.value)
    assert "token service 127.0.0.1 answered HTTP 401" in str(e.value)
    assert "nope" not in str(e.value)


def test_a_password_outside_latin_1_is_sent_as_utf8(server: str) -> None:
    global SECRET
    old, SECRET = SECRET, "pässwörd-✓-密码"
    try:
        snap = registry.crawl(registry.Transport(server, registry.Credentials("admin", SECRET)))
    finally:
        SECRET = old
    assert snap["repositories"] == []


@pytest.mark.parametrize(
    "token", ["TOKEN-ok\r\nX-Injected: 1", "TOKEN ok", 12345, "", ["TOKEN-ok"]]
)
def test_a_malformed_token_from_the_token_service_is_not_used(server: str, token: object) -> None:
    Handler.token = token
    t = registry.Transport(server, registry.Credentials("admin", SECRET))
    with pytest.raises(regprune.AuthenticationFailedError, match="401"):
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
    t = registry.Transport(server)
    assert t.credential_source == f"{tmp_path}/config.json (auths)"
    assert REFRESH not in repr(t) and REFRESH not in str(t)
    assert main(["snapshot", "--registry", server]) == 0


def test_a_credential_helper_is_run_as_the_core_asks(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = server.split("://")[1]
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {host: "regprunetest"}}))
    helper = tmp_path / "bin" / "docker-credential-regprunetest"
    helper.parent.mkdir()
    # A helper reads the server on stdin and answers {"Username", "Secret"} (docker's protocol).
    helper.write_text(
        "#!/bin/sh\n"
        f'read server; [ "$1" = get ] && [ "$server" = "{host}" ] && '
        f'echo \'{{"Username": "admin", "Secret": "{SECRET}"}}\'\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("REGPRUNE_USERNAME", raising=False)
    monkeypatch.delenv("REGPRUNE_PASSWORD", raising=False)
    t = registry.Transport(server)
    assert t.credential_source == "docker-credential-regprunetest"
    assert registry.crawl(t)["repositories"] == []


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
