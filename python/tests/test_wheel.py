"""The wheel as users get it: built with `maturin build`, installed into clean virtualenvs of
the oldest and the newest CPython this machine has (pyenv's 3.10 and 3.13 here), where it
plans, runs its CLI and imports the registry adapter; an interpreter older than 3.10 is
refused at install time, as `requires-python` says."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
PYENV = Path.home() / ".pyenv" / "versions"


def interpreter(prefix: str) -> Path | None:
    found = sorted(PYENV.glob(f"{prefix}.*/bin/python3"))
    return found[-1] if found else None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    maturin = Path(sys.executable).parent / "maturin"
    subprocess.run(
        [str(maturin), "build", "--release", "--quiet", "--out", str(out)],
        cwd=PYTHON_DIR,
        check=True,
    )
    [built] = out.glob("regprune-*-cp310-abi3-*.whl")
    return built


def install(python: Path, wheel: Path, where: Path) -> subprocess.CompletedProcess[str]:
    subprocess.run([str(python), "-m", "venv", str(where)], check=True)
    return subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
         "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


SCRIPT = """
import json, pathlib, regprune, regprune.registry, regprune.cli
p = regprune.plan({'repositories': [{'name': 'a', 'manifests': [{'digest': 'sha256:' + '1' * 64}]}]},
                  {'op': 'deleteUntagged'}, now='2026-01-01T00:00:00Z')
typed = (pathlib.Path(regprune.__file__).parent / 'py.typed').exists()
print(json.dumps([regprune.__version__, len(p.actions), p.verify(), typed]))
"""


@pytest.mark.parametrize("version", ["3.10", "3.13", "current"])
def test_the_wheel_installs_and_runs_on_the_oldest_and_newest_python(
    wheel: Path, tmp_path: Path, version: str
) -> None:
    python = Path(sys.executable) if version == "current" else interpreter(version)
    if python is None:
        pytest.skip(f"no CPython {version} under {PYENV}")
    env = tmp_path / "env"
    if version == "current":
        venv.create(env, with_pip=True)
        done = subprocess.run(
            [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index", str(wheel)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    else:
        done = install(python, wheel, env)
    assert done.returncode == 0, done.stderr
    py = env / "bin" / "python"
    out = subprocess.run(
        [str(py), "-c", SCRIPT], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert json.loads(out.stdout) == [__import__("regprune").__version__, 1, True, True]
    cli = subprocess.run(
        [str(env / "bin" / "regprune"), "plan", "--snapshot", "nope.json", "delete-untagged"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert (cli.returncode, cli.stderr) == (2, "error: nope.json: ENOENT\n")


def test_python_older_than_3_10_is_refused_at_install(wheel: Path, tmp_path: Path) -> None:
    python = interpreter("3.9")
    if python is None:
        pytest.skip(f"no CPython 3.9 under {PYENV}")
    done = install(python, wheel, tmp_path / "env")
    assert done.returncode != 0
    assert "regprune" in done.stderr
