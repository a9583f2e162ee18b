"""beaker.runtime.Lazy: the one holder of a component's runtime resource."""

from __future__ import annotations

import pickle
import threading

import attrs
import pytest

from beaker.runtime import Lazy, lazy_field


def test_builds_once_under_concurrent_first_use() -> None:
    holder: Lazy[object] = Lazy()
    built: list[object] = []
    start = threading.Barrier(8)

    def build() -> object:
        built.append(object())
        return built[-1]

    def use() -> None:
        start.wait()
        holder.get(build)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and holder.value is built[0]


def test_drop_returns_the_value_and_the_next_get_builds_anew() -> None:
    holder: Lazy[list[int]] = Lazy()
    first = holder.get(lambda: [1])
    assert holder.drop() is first and holder.value is None and holder.drop() is None
    assert holder.get(lambda: [2]) == [2]


def test_a_failed_build_keeps_nothing() -> None:
    holder: Lazy[int] = Lazy()

    def broken() -> int:
        raise OSError("down")

    with pytest.raises(OSError):
        holder.get(broken)
    assert holder.value is None and holder.get(lambda: 3) == 3


@attrs.frozen
class _Component:
    name: str
    _runtime: Lazy[threading.Lock] = lazy_field()


def test_field_is_private_per_instance_and_pickles_empty() -> None:
    one = _Component("a")
    lock = one._runtime.get(threading.Lock)  # not picklable itself
    assert repr(one) == "_Component(name='a')" and one == _Component("a")
    assert attrs.evolve(one)._runtime.value is None
    copy = pickle.loads(pickle.dumps(one))
    assert copy == one and copy._runtime.value is None and one._runtime.value is lock
