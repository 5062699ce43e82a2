"""The release artifacts as users get them (``make dist``): the wheel installs into a fresh
virtual environment of the oldest and the newest supported CPython with no Rust toolchain on
PATH, and plans from Python and from the ``regprune`` command; the sdist carries everything a
build from source needs."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
PYENV = Path.home() / ".pyenv" / "versions"


def wheel() -> Path:
    found = sorted(DIST.glob("regprune-*.whl"))
    assert found, "no wheel in dist/: run `make dist`"
    return found[-1]


def interpreters() -> list[str]:
    """CPython 3.10 (the oldest supported) and 3.13 (the newest) when pyenv has them, else this one."""
    found = []
    for minor in ("3.10", "3.13"):
        match = sorted(glob.glob(str(PYENV / f"{minor}.*" / "bin" / "python3")))
        if match:
            found.append(match[-1])
    return found or [sys.executable]


def test_the_wheel_is_one_abi3_manylinux_wheel_for_cpython_3_10_and_later() -> None:
    w = wheel()
    name, version, python, abi, platform = w.stem.split("-")
    assert (name, python, abi) == ("regprune", "cp310", "abi3")
    assert "manylinux_2_17" in platform, platform
    with zipfile.ZipFile(w) as z:
        meta = z.read(f"regprune-{version}.dist-info/METADATA").decode()
        files = z.namelist()
    assert "Requires-Python: >=3.10" in meta
    assert "regprune/py.typed" in files and "regprune/_native.pyi" in files
    assert any(f.startswith("regprune/_native.abi3") for f in files)


@pytest.mark.parametrize("python", interpreters())
def test_the_wheel_installs_and_runs_without_rust(python: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    path = f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    env = {"PATH": path, "HOME": str(tmp_path), "PIP_NO_INDEX": "1", "LANG": "C.UTF-8"}
    subprocess.run(
        ["pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", str(wheel())],
        check=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    example = ROOT / "examples" / "registry.json"
    cli = subprocess.run(
        ["regprune", "plan", "--snapshot", str(example), "--now", "2026-12-01T00:00:00Z",
         "purge", "--filter", ".*:.*", "--ago", "30d", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    script = (
        "import json, sys, regprune\n"
        f"p = regprune.plan({str(example)!r}, {{'op': 'purge', 'filter': ['.*:.*'], 'ago': '30d'}},"
        " now='2026-12-01T00:00:00Z')\n"
        "print(json.dumps([sys.version_info[:2], p.digest, len(p.actions), regprune.__file__]))\n"
    )
    api = subprocess.run(
        ["python", "-c", script], capture_output=True, text=True, env=env, timeout=60,
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert api.returncode == 0, api.stderr
    version, digest, actions, where = json.loads(api.stdout)
    assert digest == from_cli["digest"] and actions == len(from_cli["actions"]) > 0
    assert str(venv) in where, "imported from the fresh environment, not the source tree"
    if python != sys.executable:
        assert f"{version[0]}.{version[1]}" in python


def test_the_sdist_carries_everything_a_source_build_needs(tmp_path: Path) -> None:
    found = sorted(DIST.glob("regprune-*.tar.gz"))
    assert found, "no sdist in dist/: run `make dist`"
    with tarfile.open(found[-1]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
        t.extractall(tmp_path, filter="data")
    for needed in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "core/src/lib.rs",
                   "core/src/markdown.rs", "bindings-python/src/lib.rs", "regprune/__init__.py",
                   "regprune/py.typed", "README.md"):  # fmt: skip
        assert needed in names, needed
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("no cargo here to resolve the sdist's workspace")
    top = next(tmp_path.iterdir())
    meta = subprocess.run(
        [cargo, "metadata", "--offline", "--format-version", "1", "--manifest-path",
         str(top / "bindings-python" / "Cargo.toml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert meta.returncode == 0, meta.stderr
    members = {p["name"] for p in json.loads(meta.stdout)["packages"] if p["source"] is None}
    assert members == {"regprune-core", "regprune-python"}


def test_python_older_than_3_10_is_refused_at_install(tmp_path: Path) -> None:
    """``requires-python`` keeps the wheel off interpreters it would crash on."""
    found = sorted(glob.glob(str(PYENV / "3.9.*" / "bin" / "python3")))
    if not found:
        pytest.skip(f"no CPython 3.9 under {PYENV}")
    venv = tmp_path / "venv"
    subprocess.run([found[-1], "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
         "--disable-pip-version-check", str(wheel())],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert "regprune" in done.stderr
