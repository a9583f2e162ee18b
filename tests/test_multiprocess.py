"""Several real processes on one host sharing on-disk stores and FileLock.

(a) Dogpile across processes: four processes ask for one cold key at once; the creator runs
once and all four get its value. (b) Torn reads: four processes write and read one store for
seconds, with values that carry their own checksum; every read is complete.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pathlib
import random
import time
from typing import Any

import pytest

from beaker.caching import compose
from beaker.entry import Entry
from beaker.locks.file import FileLock
from beaker.stores.dbm import DBMStore
from beaker.stores.file import FileStore

SPAWN = multiprocessing.get_context("spawn")
WORKERS = 4
STORES = {"file": FileStore, "dbm": DBMStore}


def _cold_key_worker(
    kind: str, data_dir: str, lock_dir: str, log: str, barrier: Any, results: Any
) -> None:
    cache = compose(STORES[kind](data_dir), lock=FileLock(lock_dir), namespace="multi")

    def creator() -> str:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(0.3)
        return f"made by {os.getpid()}"

    barrier.wait(60)
    results.put(cache.get_or_create("cold", creator))


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(STORES))
def test_creator_runs_once_across_processes(kind: str, tmp_path: pathlib.Path) -> None:
    log = tmp_path / "creator.log"
    log.touch()
    barrier, results = SPAWN.Barrier(WORKERS), SPAWN.Queue()
    args = (kind, str(tmp_path / "data"), str(tmp_path / "locks"), str(log), barrier, results)
    procs = [SPAWN.Process(target=_cold_key_worker, args=args) for _ in range(WORKERS)]
    for proc in procs:
        proc.start()
    values = [results.get(timeout=120) for _ in range(WORKERS)]
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0] * WORKERS
    creators = log.read_text().split()
    assert len(creators) == 1, f"the creator ran {len(creators)} times"
    assert values == [f"made by {creators[0]}"] * WORKERS
    assert os.listdir(tmp_path / "locks") == []  # no lock file left behind


KEYS = [f"key-{n}" for n in range(6)]


def _checked_value(writer: int, size: int) -> bytes:
    body = writer.to_bytes(1, "big") + os.urandom(8) + bytes([size % 251]) * size
    return hashlib.sha256(body).digest() + body


def _is_complete(value: bytes) -> bool:
    return len(value) >= 32 and hashlib.sha256(value[32:]).digest() == value[:32]


def _torn_read_worker(
    kind: str, data_dir: str, writer: int, seconds: float, max_size: int, start: Any, results: Any
) -> None:
    store = STORES[kind](data_dir)
    rng = random.Random(writer)
    counts = {"reads": 0, "writes": 0, "bad": 0, "misses": 0, "foreign": 0}
    start.wait(60)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        key = rng.choice(KEYS)
        if rng.random() < 0.4:
            value = _checked_value(writer, rng.choice([0, 10, 600, 5000, max_size]))
            store.set("torn", key, Entry(value, time.time()))
            counts["writes"] += 1
        else:
            entry = store.get("torn", key)
            counts["reads"] += 1
            if entry is None:
                counts["misses"] += 1
            elif not _is_complete(entry.value):
                counts["bad"] += 1
            elif entry.value[32] != writer:
                counts["foreign"] += 1
    store.close()
    results.put(counts)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "seconds", "max_size"), [("file", 5.0, 200_000), ("dbm", 3.0, 20_000)]
)
def test_no_torn_reads_across_processes(
    kind: str, seconds: float, max_size: int, tmp_path: pathlib.Path
) -> None:
    data_dir = str(tmp_path / "data")
    seed = STORES[kind](data_dir)
    for key in KEYS:  # every key exists from the start: any miss would be a lost entry
        seed.set("torn", key, Entry(_checked_value(255, 100), time.time()))
    seed.close()
    start, results = SPAWN.Barrier(WORKERS), SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=_torn_read_worker,
            args=(kind, data_dir, writer, seconds, max_size, start, results),
        )
        for writer in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    counts = [results.get(timeout=120) for _ in range(WORKERS)]
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0] * WORKERS
    total = {name: sum(c[name] for c in counts) for name in counts[0]}
    assert total["bad"] == 0, f"torn or corrupt reads: {total}"
    assert total["misses"] == 0, f"entries vanished: {total}"
    assert total["reads"] > 0 and total["writes"] > 0
    assert total["foreign"] > 0, f"no process read another's write: {total}"
