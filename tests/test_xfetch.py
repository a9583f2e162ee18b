"""XFetch (TTL(early=XFetch(...))): entries record their creator's duration (in every local
store and in SQL rows, a table from before the delta column gaining it), and a fresh entry
is recomputed early by one caller, with the paper's probability, while the others keep the
current value."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from beaker import compose
from beaker.entry import Entry, pack_entry, unpack_entry
from beaker.errors import ConfigError
from beaker.policies import TTL, XFetch
from beaker.stores import (
    AsyncSQLAlchemyStore,
    DBMStore,
    FileStore,
    MemoryStore,
    SQLAlchemyStore,
)
from beaker.testing import FakeClock
from beaker.testing.invalidation import served_while_recreating


def test_the_probability_of_the_paper() -> None:
    # early iff now - delta * beta * ln(1 - r) >= expiry
    assert XFetch(random=lambda: 0.0).early(99.0, 100.0, 1.0) is False  # ln(1) = 0
    u = 1.0 - math.exp(-1.0)  # -ln(1 - u) = 1: early exactly one delta * beta before expiry
    assert XFetch(random=lambda: u).early(99.0, 100.0, 1.0) is True
    assert XFetch(random=lambda: u).early(98.9, 100.0, 1.0) is False
    assert XFetch(beta=2.0, random=lambda: u).early(98.0, 100.0, 1.0) is True
    assert XFetch(random=lambda: 0.999999).early(0.0, 100.0, 0.0) is False  # delta unknown
    with pytest.raises(ConfigError):
        XFetch(beta=0)


def test_the_record_carries_delta() -> None:
    entry = Entry(b"v", 1.0, 2.0, 0.25)
    assert unpack_entry(pack_entry(entry)) == entry
    plain = Entry(b"v", 1.0, 2.0)
    assert pack_entry(plain)[:4] == b"BKe1" and unpack_entry(pack_entry(plain)) == plain


@pytest.mark.parametrize("kind", ["memory", "file", "dbm", "sqlite"])
def test_every_store_keeps_delta(kind: str, tmp_path: Path) -> None:
    stores = {
        "memory": MemoryStore,
        "file": lambda: FileStore(str(tmp_path)),
        "dbm": lambda: DBMStore(str(tmp_path)),
        "sqlite": lambda: SQLAlchemyStore(f"sqlite:///{tmp_path}/x.db"),
    }
    store = stores[kind]()
    store.set("n", "k", Entry(b"v", 1.0, 2.0, 0.25))
    store.set_many("n", {"m": Entry(b"w", 1.0, None, 0.5)})  # type: ignore[attr-defined]
    assert store.get("n", "k") == Entry(b"v", 1.0, 2.0, 0.25)
    assert store.get_many("n", ["m"]) == {"m": Entry(b"w", 1.0, None, 0.5)}  # type: ignore[attr-defined]
    store.close()


def test_an_sql_table_from_before_gains_the_delta_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the layout before the delta column
        conn.execute(
            sa.text(
                "CREATE TABLE beaker_cache (namespace VARCHAR, key VARCHAR, value BLOB NOT NULL,"
                " created FLOAT NOT NULL, accessed FLOAT NOT NULL, expires FLOAT,"
                " PRIMARY KEY (namespace, key))"
            )
        )
        conn.execute(sa.text("INSERT INTO beaker_cache VALUES ('n', 'old', x'01', 1, 1, NULL)"))
    engine.dispose()
    store = SQLAlchemyStore(url)
    assert store.get("n", "old") == Entry(b"\x01", 1.0, None)  # an unknown delta
    store.set("n", "k", Entry(b"v", 1.0, 2.0, 0.25))
    assert store.get("n", "k") == Entry(b"v", 1.0, 2.0, 0.25)
    store.close()

    async def read() -> Entry | None:
        async_store = AsyncSQLAlchemyStore(f"sqlite+aiosqlite:///{tmp_path}/old.db")
        try:
            return await async_store.get("n", "k")
        finally:
            await async_store.close()

    assert asyncio.run(read()) == Entry(b"v", 1.0, 2.0, 0.25)


def test_an_early_draw_recomputes_and_records_the_duration() -> None:
    clock = FakeClock(1000.0)
    draws = [0.0]
    cache = compose(
        MemoryStore(),
        expiry=TTL(10, early=XFetch(random=lambda: draws[0])),
        clock=clock,
    )
    made: list[int] = []

    def creator() -> int:
        made.append(1)
        return len(made)

    assert cache.get_or_create("k", creator) == 1
    entry = cache.store.get("default", "k")
    assert entry is not None and entry.delta > 0  # the creator's (tiny) duration
    cache.store.set("default", "k", entry._replace(delta=0.5))  # a slower creator's
    clock.advance(9.0)
    assert cache.get_or_create("k", creator) == 1  # r = 0: never early
    draws[0] = 0.999999999  # -ln(1 - r) huge: early
    assert cache.get_or_create("k", creator) == 2


def test_others_get_the_current_value_while_one_recomputes_early() -> None:
    clock = FakeClock(1000.0)
    cache = compose(
        MemoryStore(), expiry=TTL(10, early=XFetch(random=lambda: 0.999999999)), clock=clock
    )
    cache.set("k", "old")
    cache.store.set("default", "k", cache.store.get("default", "k")._replace(delta=1.0))  # type: ignore[union-attr]
    assert served_while_recreating(cache, "k", "new") == "old"  # no wait, no second creator
    assert cache.get("k") == "new"


def test_memoize_goes_through_the_early_decision() -> None:
    clock = FakeClock(1000.0)
    cache = compose(
        MemoryStore(), expiry=TTL(10, early=XFetch(random=lambda: 0.999999999)), clock=clock
    )
    calls: list[int] = []

    @cache.memoize()
    def f(n: int) -> int:
        calls.append(n)
        time.sleep(0.01)  # delta >= 0.01 s: with u ~ 1, early from ~0.2 s before expiry
        return n

    f(1)
    f(1)
    assert len(calls) == 1  # far from expiry: a plain hit
    clock.advance(9.9)
    f(1)
    assert len(calls) == 2  # recomputed early, through get_or_create
