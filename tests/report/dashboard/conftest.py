"""The dummy NAS-Bench-201 table the dashboard tests' studies look results up in."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table

    return write_dummy_nb201_table(tmp_path_factory.mktemp("nb201") / "nb201.csv.gz")
