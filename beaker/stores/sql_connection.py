"""SQLAlchemyConnection: one SQL database, through a SQLAlchemy engine, as a component.

A connection owns the URL (its password masked in ``repr``, errors and logs), the engine and
its pool (built on first use), the time budget and the circuit breaker;
:class:`~beaker.stores.SQLAlchemyStore` takes one or builds one from a URL, and stores given
the same connection (other tables, say) share one pool and one breaker.

The time budget is the drivers' own: on PostgreSQL (psycopg) ``connect_timeout`` (whole
seconds, at least 2: libpq's rule) and ``statement_timeout`` (the server cancels a statement
running longer); on SQLite ``busy_timeout`` (how long a statement waits for another writer's
lock on the file); everywhere SQLAlchemy's ``pool_timeout`` (how long a call waits for a pooled
connection). After ``breaker.failures`` failures in a row, calls fail at once with
:class:`~beaker.errors.StoreUnavailable` until a probe gets an answer (see
:class:`~beaker.policies.CircuitBreaker`).

Imports ``sqlalchemy`` (the ``sqlalchemy`` extra); must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final, TypeVar

import attrs
import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.pool import StaticPool

from beaker.errors import ConfigError, StoreError, StoreUnavailable
from beaker.policies.breaker import CircuitBreaker
from beaker.runtime import Lazy, PerLoop, lazy_field, per_loop_field
from beaker.validators import instance_of, optional, satisfies, seconds

__all__ = ["AsyncEngine", "SQLAlchemyConnection", "async_url"]

T = TypeVar("T")

#: SQLAlchemy errors that mean "the database cannot be reached or cannot serve now" (refused
#: or lost connections, SQLite's "database is locked", a pool checkout timeout).
_UNREACHABLE: Final = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)


def _is_memory_sqlite(url: sa.URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return False
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _parses(url: str | sa.URL) -> bool:
    try:
        sa.make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise ConfigError("url", "<malformed URL>", f"a SQLAlchemy URL ({exc})") from exc
    return True


def _masked(url: str | sa.URL | None) -> str:
    """``repr`` of a URL with its password masked."""
    if url is None:
        return "None"
    return repr(sa.make_url(url).render_as_string(hide_password=True))


def _write_transactions_take_the_lock(engine: sa.Engine) -> None:
    """Make SQLite transactions start with ``BEGIN IMMEDIATE`` (SQLAlchemy's recipe for the
    ``sqlite3`` driver: its own transaction handling off, ours on ``begin``).

    A transaction started by the driver's implicit ``BEGIN`` reads first and takes the write
    lock later; two such writers at once deadlock, and SQLite fails one at once with
    "database is locked" whatever the busy timeout. ``BEGIN IMMEDIATE`` takes the write lock
    first, so writers wait their turn (up to the busy timeout). Reads run outside any
    transaction (autocommit), as the driver ran them before.
    """

    @sa.event.listens_for(engine, "connect")
    def _driver_transactions_off(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def async_url(url: sa.URL) -> sa.URL:
    """The asyncio driver's form of a URL: SQLite through ``aiosqlite``, PostgreSQL through
    psycopg 3's async mode (``postgresql+psycopg``, which also replaces psycopg2 and the default
    driver); a URL naming another driver is kept as it is (it must be an asyncio one)."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "sqlite" and driver == "pysqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql" and driver in ("psycopg2", "psycopg"):
        return url.set(drivername="postgresql+psycopg")
    return url


class AsyncEngine:
    """The live asyncio engine of a connection in one event loop, its reader (autocommit) and
    guard (an ``asyncio.Lock`` when one in-memory SQLite connection is shared)."""

    __slots__ = ("__weakref__", "engine", "guard", "reader")

    def __init__(self, engine: Any, serialize: bool) -> None:
        self.engine = engine
        self.guard: Any = asyncio.Lock() if serialize else contextlib.nullcontext()
        self.reader: Any = engine.execution_options(isolation_level="AUTOCOMMIT")


class _Engine:
    """The live engine of a connection, its reader (autocommit on PostgreSQL) and guard, and,
    where reads run on the DBAPI connection, each thread's connection for them."""

    __slots__ = ("__weakref__", "dbapi_reads", "engine", "guard", "held", "reader")

    def __init__(self, engine: sa.Engine, serialize: bool, dbapi_reads: bool) -> None:
        self.engine = engine
        # One shared in-memory SQLite connection: operations take turns.
        self.guard: Any = threading.Lock() if serialize else contextlib.nullcontext()
        # Reads run in autocommit: no BEGIN/ROLLBACK around the one SELECT (on PostgreSQL two
        # round trips fewer, on SQLite no write lock taken for a read).
        self.reader: sa.Engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        #: Whether a read may run on a DBAPI connection directly (SQLite's driver, on an
        #: engine built here): a SELECT there opens no transaction, so the connection can stay
        #: with its thread between reads (:meth:`read_connection`).
        self.dbapi_reads = dbapi_reads
        #: Per thread, the pooled connection its reads run on (see :meth:`read_connection`).
        self.held = threading.local()
        if dbapi_reads:
            _HOLDING.add(self)

    def read_connection(self) -> Any:
        """This thread's driver connection for reads (only where :attr:`dbapi_reads`): taken
        from the pool at the thread's first read and detached from it, so a read costs the
        SELECT and no pool checkout or check-in. SQLite has no server to lose, so there is
        nothing to ping; :meth:`drop_read_connection` after a failed read takes a fresh one
        next time, and a forked child never reads on its parent's connections."""
        connection = getattr(self.held, "driver", None)
        if connection is None:
            pooled = self.engine.raw_connection()
            connection = pooled.driver_connection
            pooled.detach()  # ours now: closed when dropped, never returned to the pool
            self.held.pooled, self.held.driver = pooled, connection
        return connection

    def drop_read_connection(self) -> None:
        """Close this thread's read connection (after a failure); the next read takes a
        fresh one from the pool."""
        pooled = getattr(self.held, "pooled", None)
        self.held.__dict__.clear()
        if pooled is not None:
            with contextlib.suppress(Exception):
                pooled.close()


#: Engines whose threads hold read connections; a forked child forgets them (its parent's
#: SQLite connections must not be used across a fork).
_HOLDING: Final[weakref.WeakSet[_Engine]] = weakref.WeakSet()


def _forget_held_connections() -> None:
    for live in list(_HOLDING):
        live.held = threading.local()


os.register_at_fork(after_in_child=_forget_held_connections)


@attrs.frozen
class SQLAlchemyConnection:
    """One SQL database: URL, engine and pool, time budget and circuit breaker, shared by every
    store given this object.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path/cache.db`` (embedded, no server),
            ``postgresql+psycopg://user:password@host/db``, ...; shown with its password
            masked. ``sqlite://`` (in memory) works within one process: its one connection is
            shared and operations take turns.
        engine: a ``sqlalchemy.Engine`` you built, instead of ``url``; its own settings apply,
            :meth:`close` leaves it open.
        connect_timeout: seconds to connect (PostgreSQL: whole seconds, at least 2; default 2).
        statement_timeout: seconds a statement may run (PostgreSQL's ``statement_timeout``);
            default 0.5.
        busy_timeout: seconds a statement waits for another writer's lock (SQLite's busy
            timeout); default 15: writers queue for the lock, and a busy file is not a dead
            server.
        pool_timeout: seconds a call waits for a pooled connection (default 0.5).
        breaker: the :class:`~beaker.policies.CircuitBreaker` (a fresh one by default).

    An async twin of a store takes the same object: :meth:`async_live` is an asyncio engine
    on the URL's asyncio driver (aiosqlite, psycopg's async mode) with the same time budget and
    breaker, one per event loop.
    Thread- and process-safe (the database is the only shared state); picklable with a
    ``url`` (a copy builds its own engine, with a closed circuit).

    Raises:
        ConfigError: neither or both of ``url``/``engine``, a malformed URL, numbers out of
            range.
        ComponentTypeError: arguments of the wrong type.
    """

    #: The arguments that name the database.
    sources: ClassVar[tuple[str, ...]] = ("url", "engine")

    url: str | sa.URL | None = attrs.field(
        default=None,
        repr=_masked,
        validator=optional(
            satisfies(
                _parses, "a SQLAlchemy URL", types=(str, sa.URL), type_expected="a SQLAlchemy URL"
            )
        ),
    )
    engine: sa.Engine | None = attrs.field(
        default=None,
        kw_only=True,
        repr=False,
        validator=optional(instance_of(sa.Engine, "a sqlalchemy.Engine")),
    )
    connect_timeout: float = attrs.field(
        default=2.0, kw_only=True, validator=seconds(positive=True)
    )
    statement_timeout: float = attrs.field(
        default=0.5, kw_only=True, validator=seconds(positive=True)
    )
    busy_timeout: float = attrs.field(default=15.0, kw_only=True, validator=seconds(positive=True))
    pool_timeout: float = attrs.field(default=0.5, kw_only=True, validator=seconds(positive=True))
    breaker: CircuitBreaker = attrs.field(
        factory=CircuitBreaker, kw_only=True, validator=instance_of(CircuitBreaker, "a CircuitBreaker")
    )

    _live: Lazy[_Engine] = lazy_field()
    _async: PerLoop[AsyncEngine] = per_loop_field()
    _address: str = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if (self.url is None) == (self.engine is None):
            raise ConfigError("url", _masked(self.url), "exactly one of url= or engine=")
        url = self.engine.url if self.engine is not None else sa.make_url(self.url or "")
        object.__setattr__(self, "_address", url.render_as_string(hide_password=True))

    @property
    def address(self) -> str:
        """The database URL with its password masked."""
        return self._address

    @property
    def dialect(self) -> str:
        """The SQLAlchemy dialect's name (``"sqlite"``, ``"postgresql"``, ...)."""
        url = self.engine.url if self.engine is not None else sa.make_url(self.url or "")
        return url.get_backend_name()

    def live(self) -> _Engine:
        """The live engine (built on first use) with its reader and guard, after asking the
        breaker.

        Raises:
            StoreUnavailable: the circuit is open.
        """
        self.breaker.before(self._address)
        return self._live.value or self._live.get(self._build)

    def live_engine(self) -> sa.Engine:
        """The live ``sqlalchemy.Engine`` (built on first use)."""
        return (self._live.value or self._live.get(self._build)).engine

    def _engine_options(self, url: sa.URL) -> dict[str, Any]:
        """``create_engine`` options carrying the time budget, for the sync or async engine."""
        options: dict[str, Any] = {"pool_timeout": self.pool_timeout}
        backend = url.get_backend_name()
        if backend == "sqlite":
            # No network to ping; reads leave no transaction behind (see _Engine).
            options.update(
                connect_args={"timeout": self.busy_timeout}, pool_reset_on_return=None
            )
            if _is_memory_sqlite(url):
                options.update(
                    poolclass=StaticPool,
                    connect_args={"check_same_thread": False, "timeout": self.busy_timeout},
                )
                del options["pool_timeout"]
        else:
            options["pool_pre_ping"] = True
            if backend == "postgresql":
                options["connect_args"] = {
                    "connect_timeout": max(2, math.ceil(self.connect_timeout)),
                    "options": f"-c statement_timeout={math.ceil(self.statement_timeout * 1000)}",
                }
        return options

    def _build(self) -> _Engine:
        if self.engine is not None:
            return _Engine(self.engine, serialize=False, dbapi_reads=False)
        url = sa.make_url(self.url or "")
        engine = sa.create_engine(url, **self._engine_options(url))
        backend = url.get_backend_name()
        if backend == "sqlite" and engine.driver == "pysqlite":
            _write_transactions_take_the_lock(engine)
        return _Engine(
            engine,
            serialize=_is_memory_sqlite(url),
            dbapi_reads=backend == "sqlite" and engine.driver == "pysqlite",
        )

    def async_live(self) -> AsyncEngine:
        """The running event loop's asyncio engine with its reader and guard, after asking the
        breaker: the URL's asyncio driver (:func:`async_url`), the same time budget, built on
        first use in each loop (its connections belong to it). Raises
        :class:`~beaker.errors.ConfigError` for a connection given a sync ``engine``,
        :class:`~beaker.errors.StoreUnavailable` while the circuit is open and
        ``RuntimeError`` outside an event loop."""
        self.breaker.before(self._address)
        return self._async.get(self._build_async)

    def _build_async(self) -> AsyncEngine:
        from sqlalchemy.ext.asyncio import create_async_engine

        if self.url is None:
            raise ConfigError("engine", "<engine>", "a url= connection for an async engine")
        url = async_url(sa.make_url(self.url))
        engine = create_async_engine(url, **self._engine_options(url))
        if url.get_backend_name() == "sqlite":
            # SQLAlchemy's recipe for aiosqlite too: the driver's transactions off, ours on.
            _write_transactions_take_the_lock(engine.sync_engine)
        return AsyncEngine(engine, serialize=_is_memory_sqlite(url))

    # -- outcomes ------------------------------------------------------------------------------

    def failed(self, exc: BaseException, doing: str) -> StoreError:
        """The error to raise for a failure while ``doing`` something:
        :class:`~beaker.errors.StoreUnavailable` (counted by the breaker) when the database
        cannot be reached or serve now, else :class:`~beaker.errors.StoreError` (it answered:
        the circuit stays closed)."""
        unreachable: tuple[type[BaseException], ...] = _UNREACHABLE
        live = self._live.value
        if live is not None:  # the driver's own errors, from reads on its connections
            driver = live.engine.dialect.loaded_dbapi
            unreachable += (driver.OperationalError, driver.InterfaceError)
        if isinstance(exc, unreachable):
            self.breaker.failed(self._address)
            reason = f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
            return StoreUnavailable(self._address, reason.strip())
        self.breaker.succeeded(self._address)
        return StoreError(f"database at {self._address} failed to {doing}: {exc}")

    def run(self, command: Callable[[_Engine], T], doing: str) -> T:
        """``command(live engine)``, under the engine's guard, its failures mapped by
        :meth:`failed`.

        Raises:
            StoreUnavailable: the database cannot be reached or serve now, or the circuit is
                open.
            StoreError: the database refused a statement.
        """
        live = self.live()
        try:
            with live.guard:
                result = command(live)
        except StoreError:
            raise
        except Exception as exc:
            raise self._mapped(live, exc, doing) from exc
        self.breaker.succeeded(self._address)
        return result

    def fetch_one(self, sql: str, params: tuple[Any, ...], doing: str) -> Any:
        """The first row (or ``None``) of a driver-level ``SELECT`` (``sql`` in the driver's
        paramstyle) on this thread's read connection, where reads run on the DBAPI connection
        (``live().dbapi_reads``): :meth:`run` without a per-call closure and guard, for the hot
        read path. A failure drops the read connection and is mapped as :meth:`run` maps it.

        Raises:
            StoreUnavailable, StoreError: as :meth:`run`.
        """
        live = self.live()
        try:
            row = live.read_connection().execute(sql, params).fetchone()
        except Exception as exc:
            live.drop_read_connection()
            raise self._mapped(live, exc, doing) from exc
        self.breaker.succeeded(self._address)
        return row

    def _mapped(self, live: _Engine, exc: Exception, doing: str) -> Exception:
        """:meth:`failed`'s error for a database's failure; any other exception as it is."""
        if isinstance(exc, (sqlalchemy.exc.SQLAlchemyError, self._dbapi_error(live))):
            return self.failed(exc, doing)
        return exc

    async def run_async(
        self, command: Callable[[AsyncEngine], Awaitable[T]], doing: str
    ) -> T:
        """``await command(the running loop's async engine)``, under its guard: :meth:`run`
        for the async engine, with its errors."""
        live = self.async_live()
        try:
            async with live.guard:
                result = await command(live)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self.failed(exc, doing) from exc
        self.breaker.succeeded(self._address)
        return result

    async def aclose(self) -> None:
        """Dispose of the running loop's async engine, if one was built (dispose of each
        loop's engine in its loop; one whose loop has ended is forgotten)."""
        live = self._async.pop_running()
        if live is not None:
            await live.engine.dispose()

    @staticmethod
    def _dbapi_error(live: _Engine) -> type[BaseException]:
        return live.engine.dialect.loaded_dbapi.Error

    def close(self) -> None:
        """Dispose of the pool of an engine built from ``url`` (an engine passed in stays
        open: it belongs to the caller). The connection may be used again."""
        live = self._live.drop()
        if live is not None and self.engine is None:
            live.engine.dispose()
