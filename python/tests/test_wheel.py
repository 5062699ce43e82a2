"""A wheel built with `maturin build` installs and imports in a clean virtualenv."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_wheel_installs_in_a_clean_virtualenv(tmp_path: Path) -> None:
    maturin = Path(sys.executable).parent / "maturin"
    subprocess.run(
        [str(maturin), "build", "--release", "--quiet", "--out", str(tmp_path / "dist")],
        cwd=PYTHON_DIR,
        check=True,
    )
    [wheel] = (tmp_path / "dist").glob("regprune-*-abi3-*.whl")
    env = tmp_path / "env"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-index", str(wheel)], check=True
    )
    script = (
        "import regprune, json;"
        "p = regprune.plan({'repositories': [{'name': 'a', 'manifests': [{'digest': 'sha256:' + '1' * 64}]}]},"
        " {'op': 'deleteUntagged'}, now='2026-01-01T00:00:00Z');"
        "print(json.dumps([regprune.__version__, len(p.actions), p.verify()]))"
    )
    out = subprocess.run(
        [str(py), "-c", script], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    version, actions, verified = __import__("json").loads(out.stdout)
    assert (actions, verified) == (1, True)
    assert version == __import__("regprune").__version__
    typed = subprocess.run(
        [
            str(py),
            "-c",
            "import regprune, pathlib; print((pathlib.Path(regprune.__file__).parent / 'py.typed').exists())",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert typed.stdout.strip() == "True"
