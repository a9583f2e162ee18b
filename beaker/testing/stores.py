"""A Hypothesis stateful machine that checks a Store against a model dict, the batch methods
(``get_many`` / ``set_many`` / ``delete_many``, native or looped) included.

The machine writes through a :class:`~beaker.caching.Cache` driven by a :class:`FakeClock`,
so expiry is checked deterministically, and reads both through the cache (freshness) and from
the store directly (metadata round-trips exactly, keys and clear stay within a namespace).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from beaker.caching import Cache, compose
from beaker.entry import MISSING
from beaker.locks.null import NullLock
from beaker.stores.base import Store


@attrs.define
class FakeClock:
    """A clock for tests: returns ``now`` (seconds since the epoch) until advanced."""

    now: float = attrs.field(factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds


# Keys and values a store must keep exactly. Keys include spaces, unicode and long strings;
# values are whatever pickle (or a memory store) round-trips.
KEYS = st.one_of(
    st.sampled_from(["a", "b", "key with spaces", "ünïcødé", "x" * 300, "a:b", ""]),
    st.text(min_size=0, max_size=40),
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50) | st.binary(max_size=200),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
# TTLs far above real time (a test run) so stores with native TTL never drop entries on
# their own; the fake clock decides freshness.
TTLS = st.one_of(st.none(), st.integers(min_value=1_000, max_value=100_000))


class StoreMachine(RuleBasedStateMachine):
    """Subclass and override :meth:`make_store`; use ``YourMachine.TestCase`` as a test.

    Set ``supports_keys = False`` on a store class that cannot enumerate keys (memcached) to
    skip the ``keys()`` check. Namespaces are unique per run, so a shared server is safe.
    """

    def make_store(self) -> Store:
        """Return a fresh (or freshly emptied) store to check."""
        raise NotImplementedError("override make_store() in your subclass")

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.clock = FakeClock()
        run = secrets.token_hex(4)
        self.namespaces = [f"conformance-{run}-one", f"conformance-{run}-one:two"]
        self.caches: dict[str, Cache] = {
            ns: compose(self.store, lock=NullLock(), namespace=ns, clock=self.clock)
            for ns in self.namespaces
        }
        # (namespace, key) -> (value, stored_at, expires_at)
        self.model: dict[tuple[str, str], tuple[Any, float, float | None]] = {}

    def teardown(self) -> None:
        for ns in self.namespaces:
            self.store.clear(ns)
        self.store.close()

    @rule(ns=st.integers(0, 1), key=KEYS, value=VALUES, ttl=TTLS)
    def set(self, ns: int, key: str, value: Any, ttl: int | None) -> None:
        name = self.namespaces[ns]
        self.caches[name].set(key, value, ttl=ttl)
        now = self.clock.now
        self.model[(name, key)] = (value, now, None if ttl is None else now + ttl)

    @rule(ns=st.integers(0, 1), key=KEYS)
    def get(self, ns: int, key: str) -> None:
        name = self.namespaces[ns]
        expected = self.model.get((name, key))
        got = self.caches[name].get(key)
        if expected is None:
            assert got is MISSING, f"{key!r} was never set (or deleted) but get returned {got!r}"
            return
        value, stored_at, expires_at = expected
        if expires_at is not None and self.clock.now >= expires_at:
            assert got is MISSING, f"{key!r} expired but get returned {got!r}"
        else:
            assert got == value, f"{key!r}: stored {value!r}, got {got!r}"
        entry = self.store.get(name, key)
        assert entry is not None, f"store lost {key!r}"
        assert entry.stored_at == stored_at and entry.expires_at == expires_at, (
            f"{key!r}: metadata changed: {entry.stored_at, entry.expires_at} "
            f"!= {stored_at, expires_at}"
        )

    @rule(ns=st.integers(0, 1), key=KEYS)
    def delete(self, ns: int, key: str) -> None:
        name = self.namespaces[ns]
        self.caches[name].delete(key)
        self.model.pop((name, key), None)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete_existing(self, data: st.DataObject) -> None:
        name, key = data.draw(st.sampled_from(sorted(self.model)))
        self.caches[name].delete(key)
        del self.model[(name, key)]
        assert self.caches[name].get(key) is MISSING

    @rule(ns=st.integers(0, 1), values=st.dictionaries(KEYS, VALUES, max_size=5), ttl=TTLS)
    def set_many(self, ns: int, values: dict[str, Any], ttl: int | None) -> None:
        name = self.namespaces[ns]
        self.caches[name].set_many(values, ttl=ttl)
        now = self.clock.now
        for key, value in values.items():
            self.model[(name, key)] = (value, now, None if ttl is None else now + ttl)

    @rule(ns=st.integers(0, 1), keys=st.lists(KEYS, max_size=6))
    def get_many(self, ns: int, keys: list[str]) -> None:
        name = self.namespaces[ns]
        expected = {}
        for key in keys:
            found = self.model.get((name, key))
            if found is not None and (found[2] is None or self.clock.now < found[2]):
                expected[key] = found[0]
        got = self.caches[name].get_many(keys)
        assert got == expected, f"get_many({keys!r}): expected {expected!r}, got {got!r}"

    @rule(ns=st.integers(0, 1), keys=st.lists(KEYS, max_size=6))
    def delete_many(self, ns: int, keys: list[str]) -> None:
        name = self.namespaces[ns]
        self.caches[name].delete_many(keys)
        for key in keys:
            self.model.pop((name, key), None)

    @rule(ns=st.integers(0, 1))
    def clear(self, ns: int) -> None:
        name = self.namespaces[ns]
        self.caches[name].clear()
        self.model = {item: v for item, v in self.model.items() if item[0] != name}

    @rule(seconds=st.integers(min_value=1, max_value=60_000))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def keys_match_model(self) -> None:
        if not getattr(self.store, "supports_keys", True):
            return
        for name in self.namespaces:
            expected = {key for ns, key in self.model if ns == name}
            assert set(self.store.keys(name)) == expected, f"keys of {name!r} differ"


StoreMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
