"""Running a test's workload in several threads at once, failing with what any of them raised
(shared by the store and lock tests, local and network)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_threads(work: Callable[[int], None], count: int = 4) -> None:
    """Run ``work(0)`` … ``work(count - 1)`` in as many threads; fail with the first exception
    any of them raised."""
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], f"worker threads raised {errors!r}"
