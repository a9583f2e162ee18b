"""SQLAlchemyStore: entries in a SQL table, one row per ``(namespace, key)``, and
:func:`make_cache_table` for applications that manage their own schema.

Table layout (primary key ``(namespace, key)``, an index on ``expires`` for cleanup)::

    namespace  VARCHAR      the namespace
    key        VARCHAR      the key
    value      BLOB/BYTEA   the serialized value (bytes from the cache's serializer chain)
    created    DOUBLE       when the entry was written (seconds since the epoch, the cache's clock)
    accessed   DOUBLE       when it was last written; reads do not update it (no write on read)
    expires    DOUBLE NULL  when it stops being fresh; NULL = never

``%`` and NUL in namespaces and keys are stored as ``%25`` and ``%00`` (PostgreSQL text
cannot hold NUL). Every read is one ``SELECT`` by primary key on a pooled connection (no
in-process copy: one process sees another's write at once; autocommit on PostgreSQL, so no
``BEGIN``/``ROLLBACK`` around it); every write is one upsert
(``INSERT ... ON CONFLICT DO UPDATE`` on PostgreSQL and SQLite, delete + insert in one
transaction elsewhere). Each operation checks a connection out and returns it before it ends.
Expired rows are removed by :meth:`SQLAlchemyStore.purge_expired`, not by reads (freshness is
the cache's decision).

Imports ``sqlalchemy`` (the ``sqlalchemy`` extra; PostgreSQL through psycopg 3, the
``postgresql`` extra). Must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar, Final, cast

import attrs
import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.pool import StaticPool

from beaker.entry import Entry
from beaker.errors import ComponentTypeError, ConfigError, StoreError, StoreUnavailable
from beaker.stores.base import Versioned

_UNESCAPE: Final = re.compile("%(25|00)")
_UNESCAPED: Final = {"25": "%", "00": "\x00"}

#: Errors that mean "the database cannot be reached or cannot serve now" (refused or lost
#: connections, SQLite's "database is locked", a pool checkout timeout).
_UNREACHABLE: Final = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)


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
        sa.Index(f"ix_{table_name}_expires", "expires"),
    )


def _is_memory_sqlite(url: sa.URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return False
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


class _Runtime:
    """The engine, table and prepared statements of one store, built on first use."""

    __slots__ = (
        "add",
        "clear",
        "delete",
        "engine",
        "get",
        "guard",
        "keys",
        "reader",
        "swap",
        "table",
        "upsert",
    )

    def __init__(self, engine: sa.Engine, table: sa.Table, serialize: bool) -> None:
        self.engine = engine
        self.table = table
        # One shared in-memory SQLite connection: operations take turns.
        self.guard: Any = threading.Lock() if serialize else contextlib.nullcontext()
        c = table.c
        ns: Any = sa.bindparam("b_ns")
        key: Any = sa.bindparam("b_key")
        self.get = sa.select(c.value, c.created, c.expires).where(c.namespace == ns, c.key == key)
        self.delete = table.delete().where(c.namespace == ns, c.key == key)
        self.clear = table.delete().where(c.namespace == ns)
        self.keys = sa.select(c.key).where(c.namespace == ns)
        # compare_and_set: the row is rewritten only while it holds the value and created
        # time read (one statement, so atomic on every database).
        new: dict[str, Any] = {
            name: sa.bindparam(f"n_{name}") for name in ("value", "created", "accessed", "expires")
        }
        self.swap = (
            table.update()
            .where(
                c.namespace == ns,
                c.key == key,
                c.value == sa.bindparam("b_value"),
                c.created == sa.bindparam("b_created"),
            )
            .values(**new)
        )
        dialect = engine.dialect.name
        # Reads on PostgreSQL run in autocommit: no BEGIN/ROLLBACK around the one SELECT (two
        # round trips fewer). Elsewhere the plain engine: SQLite's driver does not open a
        # transaction for a SELECT anyway, and switching its isolation costs a PRAGMA.
        self.reader: sa.Engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if dialect == "postgresql"
            else engine
        )
        self.upsert: Any = None
        self.add: Any = table.insert()  # a duplicate key raises IntegrityError
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
                },
            )


class _Holder:
    """The live runtime of one store; pickling yields an empty holder (a copy in another
    process builds its own engine from the URL)."""

    __slots__ = ("mutex", "runtime")

    def __init__(self) -> None:
        self.runtime: _Runtime | None = None
        self.mutex = threading.Lock()

    def __reduce__(self) -> tuple[type[_Holder], tuple[()]]:
        return (_Holder, ())


def _check_url(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (str, sa.URL)):
        raise ComponentTypeError(attribute.name, value, "a SQLAlchemy URL (str) or None")
    try:
        sa.make_url(value)
    except sqlalchemy.exc.ArgumentError as exc:
        raise ConfigError(attribute.name, value, f"a SQLAlchemy URL ({exc})") from exc


def _masked(url: str | sa.URL | None) -> str:
    """``repr`` of a URL with its password masked (for the store's ``repr``)."""
    if url is None:
        return "None"
    try:
        return repr(sa.make_url(url).render_as_string(hide_password=True))
    except sqlalchemy.exc.ArgumentError:
        return "'<malformed URL>'"


def _check_engine(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, sa.Engine):
        raise ComponentTypeError(attribute.name, value, "a sqlalchemy.Engine or None")


def _check_table_name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ComponentTypeError(attribute.name, value, "a non-empty str")


@attrs.frozen
class SQLAlchemyStore:
    """Keeps entries in a SQL database through SQLAlchemy (as Beaker's ``ext:database`` /
    ``ext:sqla``, but one row per key instead of one pickled row per namespace, and every read
    goes to the database).

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path/cache.db`` (embedded, no server),
            ``postgresql+psycopg://user:password@host/db``, ...; the engine is built on first
            use with ``pool_pre_ping=True``. ``sqlite://`` (in memory) works within one process:
            its one connection is shared and operations take turns.
        engine: a ``sqlalchemy.Engine`` you built (:meth:`close` leaves it open); exactly one of
            ``url``/``engine``.
        table_name: the table (``str``, default ``"beaker_cache"``), created on first use if
            missing (see :func:`make_cache_table`).
        create_table: ``False`` leaves the schema to the application (the table must exist).

    Thread- and process-safe (the database is the only shared state). Picklable with a
    ``url``. A :class:`~beaker.stores.base.VersionedStore`: the version is the row's value
    and created time, compared by a conditional ``UPDATE``.

    Raises:
        ConfigError: neither or both of ``url``/``engine``, or a malformed URL.
        ComponentTypeError: arguments of the wrong type.
        StoreUnavailable: (from every method) the database cannot be reached or is locked;
            names the URL with its password masked.
        StoreError: the database refused a statement.
    """

    holds_objects: ClassVar[bool] = False

    url: str | sa.URL | None = attrs.field(default=None, validator=_check_url, repr=_masked)
    engine: sa.Engine | None = attrs.field(
        default=None, kw_only=True, repr=False, validator=_check_engine
    )
    table_name: str = attrs.field(default="beaker_cache", kw_only=True, validator=_check_table_name)
    create_table: bool = attrs.field(
        default=True, kw_only=True, validator=attrs.validators.instance_of(bool)
    )

    _holder: _Holder = attrs.field(init=False, factory=_Holder, eq=False, repr=False)
    _address: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if (self.url is None) == (self.engine is None):
            raise ConfigError("url", self.url, "exactly one of url= or engine=")
        url = self.engine.url if self.engine is not None else sa.make_url(self.url or "")
        object.__setattr__(self, "_address", url.render_as_string(hide_password=True))

    @property
    def address(self) -> str:
        """The database URL with its password masked."""
        return self._address

    # -- runtime -------------------------------------------------------------------------------

    def _runtime(self) -> _Runtime:
        runtime = self._holder.runtime
        return runtime if runtime is not None else self._start()

    def _start(self) -> _Runtime:
        holder = self._holder
        with holder.mutex:
            if holder.runtime is None:
                engine, serialize = self.engine, False
                if engine is None:
                    url = sa.make_url(self.url or "")
                    options: dict[str, Any] = {"pool_pre_ping": True}
                    if _is_memory_sqlite(url):
                        options.update(
                            poolclass=StaticPool, connect_args={"check_same_thread": False}
                        )
                        serialize = True
                    engine = sa.create_engine(url, **options)
                table = make_cache_table(sa.MetaData(), self.table_name)
                runtime = _Runtime(engine, table, serialize)
                if self.create_table:
                    with runtime.guard:
                        self._create(runtime)
                holder.runtime = runtime
            return holder.runtime

    def _create(self, runtime: _Runtime) -> None:
        """``CREATE TABLE``/``INDEX`` if missing; another process creating them at the same
        moment is not an error."""
        try:
            runtime.table.metadata.create_all(runtime.engine, checkfirst=True)
        except sqlalchemy.exc.DBAPIError as exc:
            try:
                exists = sa.inspect(runtime.engine).has_table(self.table_name)
            except sqlalchemy.exc.DBAPIError:
                exists = False
            if not exists:
                raise self._failed(exc, "create the cache table") from exc

    def _failed(self, exc: BaseException, doing: str) -> StoreError:
        if isinstance(exc, _UNREACHABLE):
            reason = f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
            return StoreUnavailable(self._address, reason.strip())
        return StoreError(f"database at {self._address} failed to {doing}: {exc}")

    def close(self) -> None:
        """Dispose of the connection pool of an engine built from ``url`` (an engine passed in
        stays open: it belongs to the caller). The store may be used again."""
        holder = self._holder
        with holder.mutex:
            runtime, holder.runtime = holder.runtime, None
        if runtime is not None and self.engine is None:
            runtime.engine.dispose()

    # -- single entries ------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        """One ``SELECT`` by primary key (expired rows are returned: the cache decides)."""
        runtime = self._holder.runtime or self._runtime()
        params = {"b_ns": _escape(namespace), "b_key": _escape(key)}
        try:
            with runtime.guard, runtime.reader.connect() as conn:
                row = conn.execute(runtime.get, params).first()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self._failed(exc, "read an entry") from exc
        if row is None:
            return None
        value = row[0]
        return Entry(value if type(value) is bytes else bytes(value), row[1], row[2])

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
        runtime = self._holder.runtime or self._runtime()
        try:
            with runtime.guard, runtime.engine.begin() as conn:
                if version is None:
                    try:
                        with conn.begin_nested():
                            added = conn.execute(runtime.add, row)
                            if added.returns_rows:
                                return added.first() is not None
                            return bool(added.rowcount == 1)
                    except sqlalchemy.exc.IntegrityError:
                        return False  # another writer inserted it first
                old_value, old_created = cast(tuple[bytes, float], version)
                params = {f"n_{name}": row[name] for name in ("value", "created", "accessed")}
                params.update(
                    n_expires=row["expires"],
                    b_ns=row["namespace"],
                    b_key=row["key"],
                    b_value=old_value,
                    b_created=old_created,
                )
                return bool(conn.execute(runtime.swap, params).rowcount == 1)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self._failed(exc, "write an entry") from exc

    def _row(self, namespace: str, key: str, entry: Entry) -> dict[str, Any]:
        value = entry.value
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"SQLAlchemyStore needs a bytes value, got {type(value).__name__}")
        return {
            "namespace": _escape(namespace),
            "key": _escape(key),
            "value": bytes(value),
            "created": entry.stored_at,
            "accessed": entry.stored_at,
            "expires": entry.expires_at,
        }

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One upsert of the row (``created``/``accessed`` = ``entry.stored_at``)."""
        row = self._row(namespace, key, entry)
        runtime = self._holder.runtime or self._runtime()
        try:
            with runtime.guard, runtime.engine.begin() as conn:
                if runtime.upsert is not None:
                    conn.execute(runtime.upsert, row)
                else:
                    conn.execute(runtime.delete, {"b_ns": row["namespace"], "b_key": row["key"]})
                    conn.execute(runtime.table.insert(), row)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self._failed(exc, "write an entry") from exc

    def delete(self, namespace: str, key: str) -> None:
        self._write(self._runtime().delete, {"b_ns": _escape(namespace), "b_key": _escape(key)})

    # -- whole namespaces ----------------------------------------------------------------------

    def clear(self, namespace: str) -> None:
        """One ``DELETE`` of the namespace's rows; other namespaces are untouched."""
        self._write(self._runtime().clear, {"b_ns": _escape(namespace)})

    def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace`` (read at once; the connection is returned before this
        returns)."""
        runtime = self._runtime()
        try:
            with runtime.guard, runtime.reader.connect() as conn:
                found = conn.execute(runtime.keys, {"b_ns": _escape(namespace)}).scalars().all()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self._failed(exc, "list keys") from exc
        return iter([_unescape(key) for key in found])

    def purge_expired(self, now: float | None = None, namespace: str | None = None) -> int:
        """Delete rows whose ``expires`` is before ``now`` (through the ``expires`` index), e.g.
        from a cron job or the session purge command.

        Args:
            now: seconds since the epoch (``float``); default ``time.time()``.
            namespace: only this namespace (``str``); default every namespace.

        Returns:
            The number of rows deleted.
        """
        runtime = self._runtime()
        c = runtime.table.c
        condition = c.expires < (time.time() if now is None else now)
        if namespace is not None:
            condition = sa.and_(condition, c.namespace == _escape(namespace))
        return self._write(runtime.table.delete().where(condition), {})

    def _write(self, statement: Any, params: dict[str, Any]) -> int:
        runtime = self._runtime()
        try:
            with runtime.guard, runtime.engine.begin() as conn:
                return conn.execute(statement, params).rowcount
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self._failed(exc, "delete entries") from exc
