"""SQLAlchemyStore: entries in a SQL table, one row per ``(namespace, key)``, and
:func:`make_cache_table` for applications that manage their own schema.

Table layout (primary key ``(namespace, key)``, an index on ``expires`` for cleanup)::

    namespace  VARCHAR      the namespace
    key        VARCHAR      the key
    value      BLOB/BYTEA   the serialized value (bytes from the cache's serializer chain)
    created    DOUBLE       when the entry was written (seconds since the epoch, the cache's clock)
    accessed   DOUBLE       when it was last written; reads do not update it (no write on read)
    expires    DOUBLE NULL  when it stops being fresh; NULL = never
    delta      DOUBLE NULL  seconds the entry's creator took (for XFetch); NULL = unknown

``%`` and NUL in namespaces and keys are stored as ``%25`` and ``%00`` (PostgreSQL text
cannot hold NUL). Every read is one ``SELECT`` by primary key on a pooled connection (no
in-process copy: one process sees another's write at once; autocommit on PostgreSQL, so no
``BEGIN``/``ROLLBACK`` around it; on SQLite the statement, compiled once, runs on a DBAPI
connection each thread takes from the pool once and keeps for its reads, the cost of a
hand-written ``sqlite3`` query); every write is one upsert (``INSERT ... ON CONFLICT DO
UPDATE`` on PostgreSQL and SQLite, delete + insert in one transaction elsewhere). Every other
operation checks a connection out and returns it before it ends.
Expired rows are removed by :meth:`SQLAlchemyStore.purge_expired`, not by reads (freshness is
the cache's decision).

The database, engine, pool, time budget and circuit breaker are the store's
:class:`~beaker.stores.sql_connection.SQLAlchemyConnection`. Imports ``sqlalchemy`` (the
``sqlalchemy`` extra; PostgreSQL through psycopg 3, the ``postgresql`` extra). Must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final, cast

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from beaker.entry import Entry
from beaker.errors import ComponentTypeError
from beaker.runtime import Lazy, lazy_field
from beaker.stores.base import Versioned
from beaker.stores.connection import connection_of
from beaker.stores.sql_connection import SQLAlchemyConnection
from beaker.validators import instance_of, non_empty_str

#: The columns a write sets (beside the primary key).
_WRITTEN: Final = ("value", "created", "accessed", "expires", "delta")
_UNESCAPE: Final = re.compile("%(25|00)")
_UNESCAPED: Final = {"25": "%", "00": "\x00"}


def _escape(text: str) -> str:
    if "%" in text or "\x00" in text:
        return text.replace("%", "%25").replace("\x00", "%00")
    return text


def _unescape(text: str) -> str:
    if "%" in text:
        return _UNESCAPE.sub(lambda match: _UNESCAPED[match.group(1)], text)
    return text


def make_cache_table(metadata: sa.MetaData, table_name: str = "beaker_cache") -> sa.Table:
    """Declare the cache table in ``metadata`` (for applications that create or migrate their
    schema themselves, e.g. with Alembic; pass the same ``table_name`` to the store).

    Args:
        metadata: the application's ``sqlalchemy.MetaData``.
        table_name: the table's name (``str``); its ``expires`` index is
            ``ix_<table_name>_expires``.

    Returns:
        The ``sqlalchemy.Table``, with the columns described in this module's docstring.

    Raises:
        ComponentTypeError: ``metadata`` is not a ``MetaData`` or ``table_name`` not a ``str``.
    """
    if not isinstance(metadata, sa.MetaData):
        raise ComponentTypeError("metadata", metadata, "a sqlalchemy.MetaData")
    if not isinstance(table_name, str) or not table_name:
        raise ComponentTypeError("table_name", table_name, "a non-empty str")
    return sa.Table(
        table_name,
        metadata,
        sa.Column("namespace", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("accessed", sa.Double(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=True),
        sa.Column("delta", sa.Double(), nullable=True),
        sa.Index(f"ix_{table_name}_expires", "expires"),
    )


#: Keys per ``SELECT`` of :meth:`SQLAlchemyStore.keys`.
_KEYS_PAGE: Final = 1000


def entry_of(row: Any) -> Entry:
    """The :class:`~beaker.entry.Entry` of a row's ``(value, created, expires, delta)``."""
    value = row[0]
    return Entry(value if type(value) is bytes else bytes(value), row[1], row[2], row[3] or 0.0)


def create_missing(conn: sa.Connection, table: sa.Table) -> None:
    """Create ``table`` and its index if missing, and add the ``delta`` column to a table
    created before it existed (an ``ALTER TABLE`` adding it, nullable: old rows read as an
    unknown creator time)."""
    table.metadata.create_all(conn, checkfirst=True)
    columns = {column["name"] for column in sa.inspect(conn).get_columns(table.name)}
    if "delta" not in columns:
        name = conn.dialect.identifier_preparer.format_table(table)
        kind = table.c.delta.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN delta {kind}"))


class _Statements:
    """The table and statements of one store, prepared on first use."""

    __slots__ = (
        "add",
        "clear",
        "delete",
        "delete_many",
        "discard",
        "get",
        "get_many",
        "get_sql",
        "keys",
        "keys_after",
        "keys_first",
        "swap",
        "table",
        "upsert",
    )

    def __init__(self, engine: sa.Engine, table: sa.Table, dbapi_reads: bool) -> None:
        self.table = table
        c = table.c
        ns: Any = sa.bindparam("b_ns")
        key: Any = sa.bindparam("b_key")
        self.get = sa.select(c.value, c.created, c.expires, c.delta).where(
            c.namespace == ns, c.key == key
        )
        #: The read as the driver's SQL (positional ``(namespace, key)``), for DBAPI reads.
        self.get_sql: str | None = None
        if dbapi_reads:
            compiled = self.get.compile(dialect=engine.dialect)
            if compiled.positiontup == ["b_ns", "b_key"]:
                self.get_sql = compiled.string
        self.delete = table.delete().where(c.namespace == ns, c.key == key)
        many: Any = sa.bindparam("b_keys", expanding=True)
        self.get_many = sa.select(c.key, c.value, c.created, c.expires, c.delta).where(
            c.namespace == ns, c.key.in_(many)
        )
        self.delete_many = table.delete().where(c.namespace == ns, c.key.in_(many))
        self.clear = table.delete().where(c.namespace == ns)
        self.keys = sa.select(c.key).where(c.namespace == ns)
        # keys() pages: in key order along the primary key, each after the last key read.
        page = sa.select(c.key).order_by(c.key).limit(_KEYS_PAGE)
        self.keys_first = page.where(c.namespace == ns)
        self.keys_after = page.where(c.namespace == ns, c.key > sa.bindparam("b_after"))
        # compare_and_set: the row is rewritten only while it holds the value and created
        # time read (one statement, so atomic on every database).
        new: dict[str, Any] = {
            name: sa.bindparam(f"n_{name}") for name in _WRITTEN
        }
        read_row = (
            c.namespace == ns,
            c.key == key,
            c.value == sa.bindparam("b_value"),
            c.created == sa.bindparam("b_created"),
        )
        self.swap = table.update().where(*read_row).values(**new)
        #: compare_and_delete: the row is removed only while it holds what was read.
        self.discard = table.delete().where(*read_row)
        self.upsert: Any = None
        self.add: Any = table.insert()  # a duplicate key raises IntegrityError
        dialect = engine.dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
            # RETURNING says whether a row went in (psycopg reports no rowcount here).
            self.add = insert.on_conflict_do_nothing(index_elements=[c.namespace, c.key]).returning(
                c.key
            )
            self.upsert = insert.on_conflict_do_update(
                index_elements=[c.namespace, c.key],
                set_={
                    "value": insert.excluded.value,
                    "created": insert.excluded.created,
                    "accessed": insert.excluded.accessed,
                    "expires": insert.excluded.expires,
                    "delta": insert.excluded.delta,
                },
            )


def inserted(result: Any) -> bool:
    """Whether the ``INSERT`` of :meth:`SQLAlchemyStore.compare_and_set` put a row in (by
    its ``RETURNING`` row where the database has one, else by its row count)."""
    if result.returns_rows:
        return result.first() is not None
    return bool(result.rowcount == 1)


def swap_params(row: dict[str, Any], version: object) -> dict[str, Any]:
    """The parameters of the conditional ``UPDATE`` writing ``row`` over the row ``version``
    (value and created time) names."""
    old_value, old_created = cast(tuple[bytes, float], version)
    params = {f"n_{name}": row[name] for name in _WRITTEN}
    params.update(b_ns=row["namespace"], b_key=row["key"], b_value=old_value, b_created=old_created)
    return params


def discard_params(namespace: str, key: str, version: object) -> dict[str, Any] | None:
    """The parameters of the ``DELETE`` of ``(namespace, key)`` while it still holds
    ``version`` (a ``(value, created)`` pair read by ``get_versioned``), or ``None`` for the
    version of an absent row (nothing to delete)."""
    if version is None:
        return None
    old_value, old_created = cast(tuple[bytes, float], version)
    return {
        "b_ns": _escape(namespace),
        "b_key": _escape(key),
        "b_value": old_value,
        "b_created": old_created,
    }


@attrs.frozen(init=False)
class SQLAlchemyStore:
    """Keeps entries in a SQL database through SQLAlchemy (as Beaker's ``ext:database`` /
    ``ext:sqla``, but one row per key instead of one pickled row per namespace, and every read
    goes to the database).

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path/cache.db`` (embedded, no server),
            ``postgresql+psycopg://user:password@host/db``, ...; the engine is built on first
            use. ``sqlite://`` (in memory) works within one process.
        engine: a ``sqlalchemy.Engine`` you built (:meth:`close` leaves it open); exactly one
            of ``url``/``engine``/``connection``.
        connection: the :class:`~beaker.stores.SQLAlchemyConnection` (database, pool, time
            budget, circuit breaker), perhaps shared with other stores; or
        connect_timeout, statement_timeout, pool_timeout, breaker: the other arguments of a
            :class:`~beaker.stores.SQLAlchemyConnection` built for this store.
        table_name: the table (``str``, default ``"beaker_cache"``), created on first use if
            missing (see :func:`make_cache_table`).
        create_table: ``False`` leaves the schema to the application (the table must exist,
            with every column of :func:`make_cache_table`, the nullable ``delta`` included).

    Thread- and process-safe (the database is the only shared state). Picklable with a
    ``url``.

    Raises:
        ConfigError: no database, or both ``connection`` and ``url``/``engine``; a malformed
            URL; numbers out of range.
        ComponentTypeError: arguments of the wrong type.
        StoreUnavailable: (from every method) the database cannot be reached, is locked, did
            not answer within the budget, or its circuit is open; names the URL with its
            password masked.
        StoreError: the database refused a statement.
    """

    holds_objects: ClassVar[bool] = False

    connection: SQLAlchemyConnection
    table_name: str = attrs.field(default="beaker_cache", validator=non_empty_str())
    create_table: bool = attrs.field(default=True, validator=instance_of(bool, "a bool"))
    _statements: Lazy[_Statements] = lazy_field()

    def __init__(
        self,
        url: str | sa.URL | None = None,
        *,
        connection: SQLAlchemyConnection | None = None,
        table_name: str = "beaker_cache",
        create_table: bool = True,
        **connect: Any,
    ) -> None:
        if url is not None:
            connect["url"] = url
        self.__attrs_init__(
            connection_of(SQLAlchemyConnection, connection, connect), table_name, create_table
        )

    @property
    def address(self) -> str:
        """The database URL with its password masked."""
        return self.connection.address

    def close(self) -> None:
        """Dispose of the connection's pool (see
        :meth:`~beaker.stores.SQLAlchemyConnection.close`); the store may be used again."""
        self.connection.close()

    # -- runtime -------------------------------------------------------------------------------

    def _prepared(self) -> _Statements:
        return self._statements.value or self._statements.get(self._prepare)

    def _prepare(self) -> _Statements:
        def prepare(live: Any) -> _Statements:
            table = make_cache_table(sa.MetaData(), self.table_name)
            if self.create_table:
                self._create(live.engine, table)
            return _Statements(live.engine, table, live.dbapi_reads)

        return self.connection.run(prepare, "create the cache table")

    def _create(self, engine: sa.Engine, table: sa.Table) -> None:
        """``CREATE TABLE``/``INDEX`` if missing (and the ``delta`` column: see
        :func:`create_missing`); another process creating them at the same moment is not an
        error."""
        try:
            with engine.begin() as conn:
                create_missing(conn, table)
        except sa.exc.DBAPIError:
            try:
                exists = sa.inspect(engine).has_table(self.table_name)
            except sa.exc.DBAPIError:
                exists = False
            if not exists:
                raise

    # -- single entries ------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        """One ``SELECT`` by primary key (expired rows are returned: the cache decides)."""
        statements = self._statements.value or self._prepared()
        ns, k = _escape(namespace), _escape(key)
        sql = statements.get_sql
        if sql is not None:
            row = self.connection.fetch_one(sql, (ns, k), "read an entry")
        else:

            def read(live: Any) -> Any:
                with live.reader.connect() as conn:
                    return conn.execute(statements.get, {"b_ns": ns, "b_key": k}).first()

            row = self.connection.run(read, "read an entry")
        return None if row is None else entry_of(row)

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``SELECT``, as :meth:`get`; the version is the row's value and created time
        (``None``: no row)."""
        entry = self.get(namespace, key)
        return Versioned(entry, None if entry is None else (entry.value, entry.stored_at))

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """One statement: an ``UPDATE`` of the row while it still holds the version's value
        and created time, or (for the version of no row) an ``INSERT`` that does nothing if a
        row appeared meanwhile."""
        row = self._row(namespace, key, entry)
        statements = self._statements.value or self._prepared()

        def write(live: Any) -> bool:
            with live.engine.begin() as conn:
                if version is None:
                    try:
                        with conn.begin_nested():
                            return inserted(conn.execute(statements.add, row))
                    except sa.exc.IntegrityError:
                        return False  # another writer inserted it first
                swap = swap_params(row, version)
                return bool(conn.execute(statements.swap, swap).rowcount == 1)

        return self.connection.run(write, "write an entry")

    def _row(self, namespace: str, key: str, entry: Entry) -> dict[str, Any]:
        value = entry.value
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise ComponentTypeError("entry.value", value, "bytes (SQLAlchemyStore keeps bytes)")
        return {
            "namespace": _escape(namespace),
            "key": _escape(key),
            "value": bytes(value),
            "created": entry.stored_at,
            "accessed": entry.stored_at,
            "expires": entry.expires_at,
            "delta": entry.delta or None,
        }

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One upsert of the row (``created``/``accessed`` = ``entry.stored_at``)."""
        self._upsert(namespace, self._row(namespace, key, entry))

    def _upsert(self, namespace: str, rows: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Write one row (a dict) or several (a list: the statement executed for all of
        them), in one transaction; without an upsert, the rows are deleted and inserted."""
        statements = self._statements.value or self._prepared()

        def write(live: Any) -> None:
            with live.engine.begin() as conn:
                if statements.upsert is not None:
                    conn.execute(statements.upsert, rows)
                    return
                many = rows if isinstance(rows, list) else [rows]
                keys = [row["key"] for row in many]
                conn.execute(statements.delete_many, {"b_ns": _escape(namespace), "b_keys": keys})
                conn.execute(statements.table.insert(), rows)

        self.connection.run(write, "write an entry")

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """One ``DELETE`` of the row while it still holds the version's value and created
        time."""
        params = discard_params(namespace, key, version)
        return params is not None and self._write(self._prepared().discard, params) == 1

    def delete(self, namespace: str, key: str) -> None:
        self._write(self._prepared().delete, {"b_ns": _escape(namespace), "b_key": _escape(key)})

    # -- many entries --------------------------------------------------------------------------

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        """One ``SELECT ... WHERE key IN (...)``."""
        wanted = [_escape(key) for key in keys]
        if not wanted:
            return {}
        statement = self._prepared().get_many

        def read(live: Any) -> list[Any]:
            with live.reader.connect() as conn:
                params = {"b_ns": _escape(namespace), "b_keys": wanted}
                return list(conn.execute(statement, params))

        return {
            _unescape(row[0]): entry_of(row[1:])
            for row in self.connection.run(read, "read entries")
        }

    def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        """One upsert statement executed for all the rows, in one transaction (where the
        database has no upsert: one ``DELETE ... IN`` and one ``INSERT`` of the rows)."""
        rows = [self._row(namespace, key, entry) for key, entry in entries.items()]
        if rows:
            self._upsert(namespace, rows)

    def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """One ``DELETE ... WHERE key IN (...)``."""
        wanted = [_escape(key) for key in keys]
        if wanted:
            self._write(
                self._prepared().delete_many, {"b_ns": _escape(namespace), "b_keys": wanted}
            )

    # -- whole namespaces ----------------------------------------------------------------------

    def clear(self, namespace: str) -> None:
        """One ``DELETE`` of the namespace's rows; other namespaces are untouched."""
        self._write(self._prepared().clear, {"b_ns": _escape(namespace)})

    def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace``, streamed: one ``SELECT`` per page of 1,000 keys in key
        order along the primary key, each after the last key read (the connection is
        returned between pages), so memory stays flat in the namespace's size. A key present
        throughout is listed once; one added or removed meanwhile may or may not be.

        Raises:
            StoreUnavailable, StoreError: (while iterating) as the other methods.
        """
        statements = self._prepared()
        params = {"b_ns": _escape(namespace)}
        statement = statements.keys_first

        def read(live: Any) -> list[str]:  # the current page's statement and parameters
            with live.reader.connect() as conn:
                return list(conn.execute(statement, params).scalars())

        while True:
            page = self.connection.run(read, "list keys")
            for key in page:
                yield _unescape(key)
            if len(page) < _KEYS_PAGE:
                return
            statement, params = statements.keys_after, {**params, "b_after": page[-1]}

    def purge_expired(self, now: float | None = None, namespace: str | None = None) -> int:
        """Delete rows whose ``expires`` is before ``now`` (through the ``expires`` index), e.g.
        from a cron job or the session purge command.

        Args:
            now: seconds since the epoch (``float``); default ``time.time()``.
            namespace: only this namespace (``str``); default every namespace.

        Returns:
            The number of rows deleted.
        """
        c = self._prepared().table.c
        condition = c.expires < (time.time() if now is None else now)
        if namespace is not None:
            condition = sa.and_(condition, c.namespace == _escape(namespace))
        return self._write(self._prepared().table.delete().where(condition), {})

    def _write(self, statement: Any, params: dict[str, Any]) -> int:
        def write(live: Any) -> int:
            with live.engine.begin() as conn:
                return int(conn.execute(statement, params).rowcount)

        return self.connection.run(write, "delete entries")
