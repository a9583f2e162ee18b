"""beaker.runtime: Lazy (one value built on first use) and PerLoop (one value per event loop),
the holders of a component's runtime resources."""

from __future__ import annotations

import asyncio
import pickle
import threading

import attrs
import pytest

from beaker.runtime import Lazy, PerLoop, lazy_field, per_loop_field


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


@attrs.frozen
class _AsyncComponent:
    name: str
    _clients: PerLoop[list[str]] = per_loop_field()


def test_per_loop_keeps_one_value_per_event_loop() -> None:
    one = _AsyncComponent("a")
    built: list[list[str]] = []

    def build() -> list[str]:
        built.append([])
        return built[-1]

    async def use() -> list[str]:
        first = one._clients.get(build)
        assert one._clients.get(build) is first  # built once in this loop
        return first

    in_one, in_other = asyncio.run(use()), asyncio.run(use())
    assert in_one is not in_other and built == [in_one, in_other]

    async def pop() -> list[str] | None:
        one._clients.get(build)
        return one._clients.pop_running()

    popped = asyncio.run(pop())
    assert popped is built[-1] and len(built) == 3
    with pytest.raises(RuntimeError):
        one._clients.get(build)  # no running loop


def test_per_loop_field_is_private_per_instance_and_pickles_empty() -> None:
    one = _AsyncComponent("a")

    async def fill(component: _AsyncComponent) -> list[str]:
        return component._clients.get(lambda: ["client"])

    kept = asyncio.run(fill(one))
    assert repr(one) == "_AsyncComponent(name='a')" and one == _AsyncComponent("a")
    assert attrs.evolve(one)._clients is not one._clients
    copy = pickle.loads(pickle.dumps(one))
    assert copy == one and copy._clients is not one._clients
    assert asyncio.run(fill(copy)) is not kept
