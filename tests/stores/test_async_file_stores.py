"""AsyncFileStore and AsyncDBMStore: the sync stores' files, run in a worker thread. The twin
machine proves each async store reads what its sync twin wrote in one directory and back."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from beaker import compose, compose_async
from beaker.stores import AsyncDBMStore, AsyncFileStore, DBMStore, FileStore
from beaker.stores.base import AsyncStore, Store
from beaker.testing import TwinStoreMachine


class _TempDirTwins(TwinStoreMachine):
    def make_twins(self) -> tuple[Store, AsyncStore]:
        self.tmp = tempfile.mkdtemp(prefix="beaker-async-twins-")
        return self.make_twins_in(self.tmp)

    def make_twins_in(self, directory: str) -> tuple[Store, AsyncStore]:
        raise NotImplementedError

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


class FileTwins(_TempDirTwins):
    def make_twins_in(self, directory: str) -> tuple[Store, AsyncStore]:
        return FileStore(directory), AsyncFileStore(directory)


class DBMTwins(_TempDirTwins):
    def make_twins_in(self, directory: str) -> tuple[Store, AsyncStore]:
        return DBMStore(directory), AsyncDBMStore(directory, max_open=4)


TestFileTwins = FileTwins.TestCase
TestDBMTwins = DBMTwins.TestCase
# The sync stores' own machines cover the stores; these cover the twins' agreement.
for _case in (TestFileTwins, TestDBMTwins):
    _case.settings = settings(_case.settings, max_examples=15)


@pytest.mark.parametrize("make", [AsyncFileStore, AsyncDBMStore])
def test_a_cache_on_the_async_twin_round_trips_and_keeps_the_config(
    make: type[AsyncFileStore | AsyncDBMStore], tmp_path: Path
) -> None:
    store = make(tmp_path)
    assert store.sync.data_dir == str(tmp_path) and not store.holds_objects
    assert type(store).of(store.sync) == store
    cache = compose_async(store, ttl=60)

    async def scenario() -> list[object]:
        await asyncio.gather(*(cache.set(f"k{n}", {"n": n}) for n in range(20)))
        return list(await asyncio.gather(*(cache.get(f"k{n}") for n in range(20))))

    assert asyncio.run(scenario()) == [{"n": n} for n in range(20)]
    assert compose(store.sync, ttl=60).get("k3") == {"n": 3}  # the sync twin reads it
