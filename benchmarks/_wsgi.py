"""Shared WSGI pieces of the session benchmarks (not part of the package): a prepared environ,
the counter and untouched applications, and :func:`requester`, which replays one browser's
request.

Imported by the scripts that run in this package's virtualenv and by the baseline scripts that
run inside real Beaker 1.14.1's, so it must not import ``beaker`` (either one) or anything
beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BASE_ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "80",
    "HTTP_HOST": "localhost",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "http",
}


def counter_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Reads a counter from ``environ["beaker.session"]``, increments it and saves."""
    session = environ["beaker.session"]
    session["count"] = session.get("count", 0) + 1
    session.save()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def untouched_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Never touches the session (the middleware's floor)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def requester(app: Callable[..., Iterable[bytes]]) -> Callable[[], None]:
    """A no-argument callable making one request with the cookie the first response set (it
    has made one request already when returned)."""
    captured: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured[:] = headers

    list(app(dict(BASE_ENVIRON), start_response))
    cookies = [value.split(";")[0] for name, value in captured if name.lower() == "set-cookie"]
    environ = dict(BASE_ENVIRON)
    if cookies:
        environ["HTTP_COOKIE"] = cookies[0]

    def request() -> None:
        list(app(dict(environ), start_response))

    request()
    return request
