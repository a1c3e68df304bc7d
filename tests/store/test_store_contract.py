"""The shipped store contract over every store nasforge ships."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nasforge.errors import ConfigError
from nasforge.store import InMemoryStore, SQLiteStore, Store
from nasforge.testing.store_contract import STORE_MODES, StoreContract, StoreSupplier


@pytest.fixture(params=[pytest.param(mode, id=mode) for mode in STORE_MODES])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    with StoreSupplier(request.param) as store:
        yield store


class TestStore(StoreContract):
    pass


def test_supplier_gives_each_kind() -> None:
    with StoreSupplier("memory") as memory, StoreSupplier("sqlite") as sqlite:
        assert isinstance(memory, InMemoryStore)
        assert isinstance(sqlite, SQLiteStore) and sqlite.journal_mode == "wal"


def test_supplier_refuses_an_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="unknown store mode 'redis'; the modes are: 'memory'"):
        StoreSupplier("redis")
