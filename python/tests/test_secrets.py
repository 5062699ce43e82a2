"""Secrets, end to end through both CLIs against the real registry behind a token-protected
proxy: snapshot, plan, execute (with progress output) and undo with a username and password.
The password, the tokens and any Authorization header never appear in the snapshot, the plan,
the report, the journal or anything printed; tokens are asked for with the narrowest scopes
(delete only on the repositories the plan deletes from); plain HTTP to a non-loopback host is
refused unless --insecure."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry_fixture import Pool, RegistryServer, push

import regprune

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from faultproxy import SECRET_TOKEN_PREFIX, FaultProxy

USER, SECRET = "robot", "Pa55-w0rd-secret"
CLIS = {
    "python": [str(ROOT / ".venv" / "bin" / "regprune")],
    "node": ["node", str(ROOT / "npm" / "cli.js")],
}


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_no_secret_leaks_and_scopes_are_narrow(tmp_path: Path, cli: str) -> None:
    (tmp_path / "registry").mkdir()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    proxy = FaultProxy(server.url, 0.0, 1, credentials=(USER, SECRET)).start()
    try:
        pool = Pool(server.url.split("://")[1])
        push(pool, 1, 12, f"sec{cli}", tags_per_manifest=1)  # bench/sec<cli>-0: tagged
        push(pool, 1, 3, f"keep{cli}", tags_per_manifest=1)  # another repository, kept
        env = {**os.environ, "REGPRUNE_USERNAME": USER, "REGPRUNE_PASSWORD": SECRET}
        run = lambda *args: subprocess.run(
            [*CLIS[cli], *args], capture_output=True, text=True, env=env, check=True
        )
        snap, plan, journal = (
            tmp_path / "snap.json",
            tmp_path / "plan.json",
            tmp_path / "journal.jsonl",
        )
        printed = [run("snapshot", "--registry", proxy.url, "-o", str(snap))]
        printed.append(
            run(
                "plan",
                "--snapshot",
                str(snap),
                "--now",
                "2030-01-01T00:00:00Z",
                "-o",
                str(plan),
                "purge",
                "--filter",
                f"bench/sec{cli}-0:t[0-5]-.*",
                "--ago",
                "0d",
            )
        )
        printed.append(
            run(
                "execute",
                "--registry",
                proxy.url,
                "--yes",
                "--journal",
                str(journal),
                "--output",
                "json",
                str(plan),
            )
        )
        report = json.loads(printed[-1].stdout)
        assert report["counts"] == {"done": 6}, report["counts"]
        printed.append(run("undo", "--registry", proxy.url, str(journal)))
        # Credentials on the command line are no different (the environment is preferred).
        printed.append(
            run("snapshot", "--registry", proxy.url, "--username", USER, "--password", SECRET)
        )

        texts = [p.stdout + p.stderr for p in printed] + [
            f.read_text() for f in (snap, plan, journal)
        ]
        basic = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
        assert proxy.tokens_issued, "the proxy demanded tokens"
        for text in texts:
            for secret in (SECRET, basic, SECRET_TOKEN_PREFIX, "Authorization", "Bearer "):
                assert secret not in text, f"{secret!r} leaked"

        # Scopes: pull everywhere needed, delete only where the plan deletes.
        deletes = {s for s in proxy.scopes if "delete" in s}
        assert deletes == {f"repository:bench/sec{cli}-0:pull,delete"}, deletes
        assert all(s.startswith(("repository:", "registry:catalog:")) for s in proxy.scopes), (
            proxy.scopes
        )
    finally:
        proxy.stop()
        server.stop()


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_plain_http_is_refused_except_loopback_or_insecure(cli: str) -> None:
    env = {**os.environ, "REGPRUNE_USERNAME": USER, "REGPRUNE_PASSWORD": SECRET}
    r = subprocess.run(
        [*CLIS[cli], "snapshot", "--registry", "http://registry.example.invalid"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode != 0
    assert "plain HTTP" in r.stderr and SECRET not in r.stdout + r.stderr
    # --insecure lifts the refusal (the adapters' constructors; a real request would go out).
    if cli == "python":
        from regprune import registry

        assert registry.Transport("http://registry.example.invalid", insecure=True).registry
    else:
        script = "import('./npm/registry.js').then(m => console.log(new m.Transport('http://registry.example.invalid', {insecure: true}).registry))"
        out = subprocess.run(
            ["node", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "registry.example.invalid"


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_loopback_is_an_address_and_url_credentials_are_never_echoed(cli: str) -> None:
    """Issue 24, findings 6 and 7: a host named like a loopback address is still a remote
    host (plain HTTP refused, so no password goes out in clear), and credentials written in
    the registry URL are taken as credentials or refused with a typed error that never shows
    them, the same in both CLIs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGPRUNE_")}
    for url in (
        "http://127.anything.example:5000",
        f"http://{USER}:{SECRET}@127.0.0.1.example.com",
        f"http://{USER}:{SECRET}@registry.example.invalid/v2/",
        f"https://{USER}:{SECRET}@registry.example.invalid/some/path",
        f"ftp://{USER}:{SECRET}@registry.example.invalid",
    ):
        r = subprocess.run(
            [*CLIS[cli], "snapshot", "--registry", url],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 2, (url, r.stdout, r.stderr)
        assert SECRET not in r.stdout + r.stderr, (url, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("error: "), r.stderr


def test_url_credentials_authenticate(tmp_path: Path) -> None:
    """Credentials in the URL are used, exactly as --username/--password would be."""
    from regprune import registry

    (tmp_path / "registry").mkdir()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    proxy = FaultProxy(server.url, 0.0, 1, credentials=(USER, SECRET)).start()
    try:
        push(Pool(server.url.split("://")[1]), 1, 2, "urlcred", tags_per_manifest=1)
        netloc = proxy.url.split("://")[1]
        for cli in sorted(CLIS):
            r = subprocess.run(
                [*CLIS[cli], "snapshot", "--registry", f"http://{USER}:{SECRET}@{netloc}"],
                check=False,
                capture_output=True,
                text=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("REGPRUNE_")},
                timeout=60,
            )
            assert r.returncode == 0, (cli, r.stderr)
            assert SECRET not in r.stdout + r.stderr
            assert any(x["name"] == "bench/urlcred-0" for x in json.loads(r.stdout)["repositories"])
        with pytest.raises(regprune.InvalidOperationError) as e:
            registry.Transport(
                f"http://{USER}:{SECRET}@{netloc}", registry.Credentials(USER, SECRET)
            )
        assert SECRET not in str(e.value)
    finally:
        proxy.stop()
        server.stop()
