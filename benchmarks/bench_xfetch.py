"""XFetch benchmark: 16 threads hammer one key through several expiries; how many calls waited
for a creator, without and with early recomputation (TTL(early=XFetch())).

    python benchmarks/bench_xfetch.py [--workers 16] [--seconds 4] [--ttl 1] [--creator 0.05]

A call "waited" when it did not run the creator itself and took longer than half the
creator's time (it sat on the dogpile lock). Without XFetch every expiry makes all the other
workers wait; with it one worker refreshes the key shortly before expiry and the others keep
reading the current value. Real time, real threads: the counts vary from run to run (and with
the machine's load), the gap between the two rows does not.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from beaker import compose
from beaker.policies import TTL, XFetch
from beaker.stores import MemoryStore


def hammer(
    expiry: TTL, workers: int, seconds: float, creator_seconds: float
) -> tuple[int, int, int]:
    """``(calls, calls that waited, creator runs)`` of ``workers`` threads for ``seconds``."""
    cache = compose(MemoryStore(), expiry=expiry)
    ran = threading.local()
    counts = {"calls": 0, "waited": 0, "runs": 0}
    mutex = threading.Lock()

    def creator() -> float:
        ran.flag = True
        time.sleep(creator_seconds)
        with mutex:
            counts["runs"] += 1
        return time.time()

    cache.get_or_create("hot", creator)
    deadline = time.monotonic() + seconds

    def work() -> None:
        calls = waited = 0
        while time.monotonic() < deadline:
            ran.flag = False
            start = time.perf_counter()
            cache.get_or_create("hot", creator)
            calls += 1
            if not ran.flag and time.perf_counter() - start > creator_seconds / 2:
                waited += 1
            time.sleep(0.001)
        with mutex:
            counts["calls"] += calls
            counts["waited"] += waited

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["calls"], counts["waited"], counts["runs"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--creator", type=float, default=0.05, help="creator seconds")
    args = parser.parse_args()
    print(
        f"{args.workers} workers, one key, TTL {args.ttl} s, creator {args.creator} s, {args.seconds} s"
    )
    print(f"{'expiry':<24}{'calls':>8}{'waited':>8}{'creator runs':>14}")
    for name, expiry in (
        ("TTL", TTL(args.ttl)),
        ("TTL + XFetch(beta=1)", TTL(args.ttl, early=XFetch())),
    ):
        calls, waited, runs = hammer(expiry, args.workers, args.seconds, args.creator)
        print(f"{name:<24}{calls:>8}{waited:>8}{runs:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
