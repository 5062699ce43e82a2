from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def example() -> Path:
    return ROOT / "examples" / "registry.json"
