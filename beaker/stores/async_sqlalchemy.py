"""AsyncSQLAlchemyStore: the asyncio twin of :class:`~beaker.stores.SQLAlchemyStore`, on
SQLAlchemy's asyncio engine (``aiosqlite`` for SQLite, psycopg 3's async mode for
PostgreSQL).

The twin holds its sync store (:attr:`~AsyncSQLAlchemyStore.sync`: connection, table) and runs
the same statements on the same table and rows, so sync and async processes share one database
and each other's versions (compare-and-set on value and created time). The engine is the
connection's :meth:`~beaker.stores.SQLAlchemyConnection.async_live` (one per event loop, the
connection's time budget and breaker).

Imports ``sqlalchemy`` with its asyncio extension (the ``asyncio`` extra: greenlet,
aiosqlite) and :mod:`beaker.stores.sqlalchemy`; must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import sqlalchemy as sa

from beaker.entry import Entry
from beaker.runtime import Lazy, lazy_field
from beaker.stores._twins import NetworkTwin
from beaker.stores.base import Versioned
from beaker.stores.sql_connection import AsyncEngine
from beaker.stores.sqlalchemy import (
    SQLAlchemyStore,
    _escape,
    _Statements,
    _unescape,
    create_missing,
    discard_params,
    entry_of,
    inserted,
    make_cache_table,
    swap_params,
)


@attrs.frozen(init=False)
class AsyncSQLAlchemyStore(NetworkTwin[SQLAlchemyStore]):
    """Keeps entries in a SQL table like :class:`~beaker.stores.SQLAlchemyStore`, awaited.

    Args:
        url: as :class:`~beaker.stores.SQLAlchemyStore`; its driver becomes the asyncio one
            (``sqlite:///cache.db`` runs on ``aiosqlite``, ``postgresql+psycopg://...`` on
            psycopg's async mode).
        options: the other arguments of :class:`~beaker.stores.SQLAlchemyStore`, by keyword
            (``connection=``, ``table_name=``, ``create_table=``, timeouts, ``breaker=``); a
            connection built on a sync ``engine=`` is refused on first use.

    Each event loop using the store gets its own engine; ``await close()`` in a loop disposes
    of that loop's. An :class:`~beaker.stores.base.AsyncVersionedStore` with the sync store's
    versions.

    Raises:
        ConfigError, ComponentTypeError: as :class:`~beaker.stores.SQLAlchemyStore`.
        StoreUnavailable, StoreError: (from every method) as
            :class:`~beaker.stores.SQLAlchemyStore`.
    """

    holds_objects: ClassVar[bool] = False

    sync: SQLAlchemyStore
    _statements: Lazy[_Statements] = lazy_field()
    _created: Lazy[weakref.WeakSet[AsyncEngine]] = lazy_field()  # engines whose table exists

    def __init__(self, url: str | sa.URL | None = None, **options: Any) -> None:
        self.__attrs_init__(SQLAlchemyStore(url, **options))

    # -- runtime -------------------------------------------------------------------------------

    async def _ready(self) -> _Statements:
        """The statements, with the table created in this loop's database first when
        ``create_table`` (tasks racing here may each try: an existing table is no error)."""
        statements = self._statements.value
        created = self._created.value
        live = self.sync.connection.async_live()
        if statements is not None and created is not None and live in created:
            return statements
        statements = self._statements.get(
            lambda: _Statements(
                live.engine, make_cache_table(sa.MetaData(), self.sync.table_name), False
            )
        )
        if self.sync.create_table:
            table = statements.table
            await self.sync.connection.run_async(
                lambda live: _create(live, table), "create the cache table"
            )
        self._created.get(weakref.WeakSet).add(live)
        return statements

    # -- single entries ------------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> Entry | None:
        """One ``SELECT`` by primary key, as :meth:`SQLAlchemyStore.get`."""
        statements = await self._ready()
        params = {"b_ns": _escape(namespace), "b_key": _escape(key)}

        async def read(live: AsyncEngine) -> Any:
            async with live.reader.connect() as conn:
                return (await conn.execute(statements.get, params)).first()

        row = await self.sync.connection.run_async(read, "read an entry")
        return None if row is None else entry_of(row)

    async def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``SELECT``; the version is the row's value and created time, as
        :meth:`SQLAlchemyStore.get_versioned`."""
        entry = await self.get(namespace, key)
        return Versioned(entry, None if entry is None else (entry.value, entry.stored_at))

    async def compare_and_set(
        self, namespace: str, key: str, entry: Entry, version: object
    ) -> bool:
        """One statement, as :meth:`SQLAlchemyStore.compare_and_set`: a conditional
        ``UPDATE``, or an ``INSERT`` that does nothing if a row appeared meanwhile."""
        row = self.sync._row(namespace, key, entry)
        statements = await self._ready()

        async def write(live: AsyncEngine) -> bool:
            async with live.engine.begin() as conn:
                if version is None:
                    try:
                        async with conn.begin_nested():
                            return inserted(await conn.execute(statements.add, row))
                    except sa.exc.IntegrityError:
                        return False  # another writer inserted it first
                swap = swap_params(row, version)
                return bool((await conn.execute(statements.swap, swap)).rowcount == 1)

        return await self.sync.connection.run_async(write, "write an entry")

    async def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """One ``DELETE`` of the row while it still holds the version's value and created
        time, as :meth:`SQLAlchemyStore.compare_and_delete`."""
        params = discard_params(namespace, key, version)
        if params is None:
            return False
        statements = await self._ready()
        return await self._write(statements.discard, params) == 1

    async def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One upsert of the row, as :meth:`SQLAlchemyStore.set`."""
        row = self.sync._row(namespace, key, entry)
        statements = await self._ready()

        async def write(live: AsyncEngine) -> None:
            async with live.engine.begin() as conn:
                if statements.upsert is not None:
                    await conn.execute(statements.upsert, row)
                else:
                    params = {"b_ns": row["namespace"], "b_key": row["key"]}
                    await conn.execute(statements.delete, params)
                    await conn.execute(statements.table.insert(), row)

        await self.sync.connection.run_async(write, "write an entry")

    async def delete(self, namespace: str, key: str) -> None:
        statements = await self._ready()
        await self._write(statements.delete, {"b_ns": _escape(namespace), "b_key": _escape(key)})

    # -- whole namespaces ----------------------------------------------------------------------

    async def clear(self, namespace: str) -> None:
        """One ``DELETE`` of the namespace's rows; other namespaces are untouched."""
        statements = await self._ready()
        await self._write(statements.clear, {"b_ns": _escape(namespace)})

    async def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace`` (read at once)."""
        statement = (await self._ready()).keys

        async def read(live: AsyncEngine) -> list[str]:
            async with live.reader.connect() as conn:
                result = await conn.execute(statement, {"b_ns": _escape(namespace)})
                return list(result.scalars())

        found = await self.sync.connection.run_async(read, "list keys")
        return iter([_unescape(key) for key in found])

    async def _write(self, statement: Any, params: dict[str, Any]) -> int:
        async def write(live: AsyncEngine) -> int:
            async with live.engine.begin() as conn:
                return int((await conn.execute(statement, params)).rowcount)

        return await self.sync.connection.run_async(write, "delete entries")


async def _create(live: AsyncEngine, table: sa.Table) -> None:
    """``CREATE TABLE``/``INDEX`` if missing, on the async engine; another process creating
    them at the same moment is not an error."""
    try:
        async with live.engine.begin() as conn:
            await conn.run_sync(lambda sync: create_missing(sync, table))
    except sa.exc.DBAPIError:
        try:
            async with live.engine.connect() as conn:
                exists = await conn.run_sync(lambda sync: sa.inspect(sync).has_table(table.name))
        except sa.exc.DBAPIError:
            exists = False
        if not exists:
            raise
