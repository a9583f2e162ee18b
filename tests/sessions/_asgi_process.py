"""An ASGI process for the cross-front tests: ``python _asgi_process.py KIND ADDRESS`` serves the
demo's session pages from the ASGI middleware under uvicorn, with server-side sessions on the
async store of ``KIND`` (``file``: ``AsyncFileStore(ADDRESS)``; ``sqlite``:
``AsyncSQLAlchemyStore`` on the SQLite file ``ADDRESS``; ``redis:PREFIX``:
``AsyncRedisStore(url=ADDRESS, prefix=PREFIX)``), prints its URL, and serves
until its standard input closes."""

from __future__ import annotations

import sys
from typing import Any

from beaker.demo_async import serve
from beaker.sessions import server_side
from beaker.sessions.demo_app import make_asgi_app

#: The id-signing secret both fronts share.
SECRET = "cross-front secret"


def async_store(kind: str, address: str) -> Any:
    if kind.startswith("redis"):  # redis:PREFIX
        from beaker.stores import AsyncRedisStore

        return AsyncRedisStore(url=address, prefix=kind.partition(":")[2])
    if kind == "sqlite":
        from beaker.stores import AsyncSQLAlchemyStore

        return AsyncSQLAlchemyStore(url=f"sqlite:///{address}")
    from beaker.stores import AsyncFileStore

    return AsyncFileStore(address)


def main() -> None:
    kind, address = sys.argv[1:3]
    app = make_asgi_app(server_side(async_store(kind, address), secret=SECRET))
    with serve(app) as url:
        print(url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
