"""AsyncSQLAlchemyStore on SQLite files (aiosqlite) and PostgreSQL (psycopg's async mode): the
twin machine against SQLAlchemyStore on one database, and a sync and an async process sharing
one SQLite file."""

from __future__ import annotations

import asyncio
import functools
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

from beaker import compose_async
from beaker.errors import StoreUnavailable
from beaker.stores import AsyncSQLAlchemyStore, SQLAlchemyStore
from beaker.stores.base import AsyncStore, Store
from beaker.stores.sql_connection import async_url
from beaker.testing import TwinStoreMachine, check_async_compare_and_set
from tests.network._cross_front import check_fronts_share_entries, check_twins_share_versions
from tests.network._servers import machine_case


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cache.db'}"


class SQLiteTwins(TwinStoreMachine):
    where = ""

    def make_twins(self) -> tuple[Store, AsyncStore]:
        return SQLAlchemyStore(self.where), AsyncSQLAlchemyStore(self.where)


class PostgreSQLTwins(SQLiteTwins):
    """The same twins on PostgreSQL (a class of its own: its own ``where``)."""


TestSQLiteTwins = machine_case(SQLiteTwins, "sqlite_url", examples=15, steps=20)
TestPostgreSQLTwins = machine_case(PostgreSQLTwins, "postgresql_url", examples=15, steps=20)


def test_a_sync_and_an_async_process_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    check_fronts_share_entries(
        functools.partial(SQLAlchemyStore, url),
        functools.partial(AsyncSQLAlchemyStore, url),
        f"cross-{secrets.token_hex(4)}",
    )


def test_urls_take_the_asyncio_driver() -> None:
    assert str(async_url(sa.make_url("sqlite:///x.db"))) == "sqlite+aiosqlite:///x.db"
    assert async_url(sa.make_url("postgresql://u@h/d")).drivername == "postgresql+psycopg"
    assert async_url(sa.make_url("postgresql+psycopg://u@h/d")).drivername == "postgresql+psycopg"
    assert async_url(sa.make_url("sqlite+aiosqlite://")).drivername == "sqlite+aiosqlite"
    store = AsyncSQLAlchemyStore("postgresql+psycopg://user:secret@127.0.0.1/db")
    assert "secret" not in repr(store) and "secret" not in store.address


def test_in_memory_sqlite_serves_concurrent_tasks() -> None:
    async def scenario() -> list[object]:
        store = AsyncSQLAlchemyStore("sqlite://")
        cache = compose_async(store)
        await asyncio.gather(*(cache.set(f"k{n}", n) for n in range(30)))
        found = await asyncio.gather(*(cache.get(f"k{n}") for n in range(30)))
        await store.close()
        return list(found)

    assert asyncio.run(scenario()) == list(range(30))


@pytest.mark.parametrize("kind", ["sqlite", "memory", "postgresql"])
def test_compare_and_set_contract(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "postgresql":
        url = request.getfixturevalue("postgresql_url")
    elif kind == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'cas.db'}"
    else:
        url = "sqlite://"
    check_async_compare_and_set(AsyncSQLAlchemyStore(url))


def test_sync_and_async_twins_compare_each_others_versions(tmp_path: Path) -> None:
    sync = SQLAlchemyStore(f"sqlite:///{tmp_path / 'versions.db'}")
    twin = AsyncSQLAlchemyStore.of(sync)
    check_twins_share_versions(sync, twin)
    assert twin.connection is sync.connection


def test_an_unreachable_database_is_store_unavailable() -> None:
    async def scenario() -> None:
        store = AsyncSQLAlchemyStore("postgresql+psycopg://nobody@127.0.0.1:1/none")
        with pytest.raises(StoreUnavailable, match="127.0.0.1:1"):
            await store.get("ns", "k")
        await store.close()

    asyncio.run(scenario())
