"""XFetch (TTL(early=XFetch(...))): entries record their creator's duration, and a fresh entry
is recomputed early by one caller, with the paper's probability, while the others keep the
current value."""

from __future__ import annotations

import math
import time

import pytest

from beaker import compose
from beaker.entry import Entry, pack_entry, unpack_entry
from beaker.errors import ConfigError
from beaker.policies import TTL, XFetch
from beaker.stores import MemoryStore
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
