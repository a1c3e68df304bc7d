"""Fixtures for the tabular tests: synthetic NAS-Bench-201 tables in the real file's format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nasforge.evaluate.tabular import write_dummy_nb201_table
from nasforge.evaluate.tabular._table import ENV_VAR

SMALL = [
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
]
"""Cells of the small partial tables (all-none, the dummy optimum, two others)."""


@pytest.fixture(scope="session")
def full_table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete (15,625-cell) dummy table, written once per session (about a second)."""
    return write_dummy_nb201_table(tmp_path_factory.mktemp("nb201") / "nb201_table.csv.gz")


@pytest.fixture
def small_table(tmp_path: Path) -> Callable[..., Path]:
    """Writes a partial dummy table (``SMALL`` cells by default) and returns its path."""

    def write(name: str = "small.csv.gz", **kwargs: object) -> Path:
        kwargs.setdefault("archs", SMALL)
        return write_dummy_nb201_table(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return write


@pytest.fixture(autouse=True)
def _no_env_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests here give paths explicitly; the real table's env var must not leak in (the tests of
    the real file read it at import time)."""
    monkeypatch.delenv(ENV_VAR, raising=False)
