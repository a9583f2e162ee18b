"""Session benchmark: ns per request through SessionMiddleware, in one run.

    python benchmarks/bench_sessions.py [--beaker-venv PATH]

The request reads a counter from the session, increments it and saves (a Set-Cookie goes out);
the WSGI application is called directly with a prepared environ carrying the browser's Cookie
header. Workloads: signed cookie-only (HMAC-SHA256), encrypted cookie-only (AES-256-GCM), file
sessions (FileStore, id cookie signed), file sessions holding a FileLock for the request, and
an untouched request (the middleware's floor). With ``--beaker-venv`` the same requests run
through real Beaker 1.14.1's SessionMiddleware in that virtualenv
(``benchmarks/beaker114_sessions.py``: ``type=cookie`` with ``validate_key``; with
``encrypt_key`` too; ``type=file``) and each row shows ours / Beaker's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _timing import alternate, ns_per_op, print_targets, report
from _wsgi import counter_app, requester, untouched_app

from beaker.locks.file import FileLock
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions import SessionMiddleware, Sessions, cookie_only, server_side
from beaker.stores.file import FileStore


def measure(tmp: Path) -> dict[str, float]:
    keys = ["a long random validation secret", "an older secret"]
    configs: dict[str, tuple[Sessions, Callable[..., Any]]] = {
        "signed cookie request": (cookie_only(HMACSigner(keys)), counter_app),
        "encrypted cookie request": (cookie_only(AESGCMEncrypter(keys)), counter_app),
        "file session request": (server_side(FileStore(tmp / "files"), secret=keys), counter_app),
        "file session request, locked": (
            server_side(
                FileStore(tmp / "files"),
                lock=FileLock(tmp / "locks"),
                secret=keys,
                lock_requests=True,
            ),
            counter_app,
        ),
        "untouched request": (cookie_only(HMACSigner(keys)), untouched_app),
    }
    return {
        name: ns_per_op(requester(SessionMiddleware(app, sessions)))
        for name, (sessions, app) in configs.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--beaker-venv", help="virtualenv with beaker==1.14.1 installed")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternate ours and Beaker's this many times and keep each one's best (default 3;"
        " file writes on a shared disk are noisy)",
    )
    args = parser.parse_args()
    script = Path(__file__).with_name("beaker114_sessions.py")
    ours, theirs = alternate(args.rounds, lambda tmp: measure(Path(tmp)), args.beaker_venv, script)
    baselines = {"beaker 1.14.1": theirs} if theirs else {}
    report("sessions: one counter request (ns/request; ratio = ours / baseline)", ours, baselines)
    if baselines:
        targets = {
            "signed cookie request": 0.5,
            "encrypted cookie request": 0.5,
            "file session request": 1.0,
        }
        print_targets(ours, theirs, targets, 30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
