"""pyramid_beaker (installed from PyPI, unmodified) serving a Pyramid app over real HTTP with
this package as its ``beaker``: sessions (with flash messages, CSRF and exception views) and
cache regions from INI-style settings, both through ``config.include('pyramid_beaker')`` and
through its two functions called explicitly."""

from __future__ import annotations

import threading
import urllib.error
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    # required test dependencies (the 'test' extra): a missing one fails the run, never skips
    import pyramid.config as pyramid_config
    import pyramid_beaker
    from pyramid.response import Response

from beaker.cache import cache_region, cache_regions
from tests.compat.beaker_api_app import Browser, _Quiet

CALLS = {"slow": 0}


@cache_region("short_term", "pyramid")
def slow_lookup(name: str) -> str:
    CALLS["slow"] += 1
    return name.upper()


class Boom(Exception):
    pass


def count_view(request: Any) -> Response:
    request.session["n"] = request.session.get("n", 0) + 1  # pyramid_beaker saves on set
    return Response(str(request.session["n"]))


def flash_view(request: Any) -> Response:
    request.session.flash("hello")
    return Response("flashed")


def read_flash_view(request: Any) -> Response:
    return Response(",".join(request.session.pop_flash()))


def csrf_view(request: Any) -> Response:
    return Response(request.session.get_csrf_token())


def new_view(request: Any) -> Response:
    return Response(str(request.session.new))


def cached_view(request: Any) -> Response:
    return Response(slow_lookup(request.matchdict["name"]))


def boom_view(request: Any) -> Response:
    request.session["before_error"] = True
    raise Boom()


def boom_handler(exc: Boom, request: Any) -> Response:
    return Response("handled", status=500)


def settings_for(tmp_path: Path) -> dict[str, str]:
    # The settings of pyramid_beaker's documentation (INI values are strings).
    return {
        "session.type": "file",
        "session.data_dir": f"{tmp_path}/data/sessions/data",
        "session.lock_dir": f"{tmp_path}/data/sessions/lock",
        "session.key": "mykey",
        "session.secret": "mysecret",
        "session.cookie_on_exception": "true",
        "cache.regions": "default_term, second, short_term, long_term",
        "cache.type": "memory",
        "cache.second.expire": "1",
        "cache.short_term.expire": "60",
        "cache.default_term.expire": "300",
        "cache.long_term.expire": "3600",
    }


def make_app(settings: dict[str, str], *, include: bool) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        config = pyramid_config.Configurator(settings=settings)
        if include:
            config.include("pyramid_beaker")
        else:
            session_factory = pyramid_beaker.session_factory_from_settings(settings)
            config.set_session_factory(session_factory)
            pyramid_beaker.set_cache_regions_from_settings(settings)
        for name, view in [
            ("count", count_view),
            ("flash", flash_view),
            ("read_flash", read_flash_view),
            ("csrf", csrf_view),
            ("new", new_view),
            ("boom", boom_view),
        ]:
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name)
        config.add_route("cached", "/cached/{name}")
        config.add_view(cached_view, route_name="cached")
        config.add_view(boom_handler, context=Boom)
        return config.make_wsgi_app()


@pytest.fixture(params=[True, False], ids=["include", "explicit"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    CALLS["slow"] = 0
    app = make_app(settings_for(tmp_path), include=request.param)
    httpd = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _text(browser: Browser, path: str) -> str:
    with browser.opener.open(browser.base + path, timeout=30) as response:
        browser.headers = response.headers
        return str(response.read().decode())


def test_regions_from_settings_are_configured(server: str) -> None:
    assert set(cache_regions) >= {"default_term", "second", "short_term", "long_term"}
    assert cache_regions["short_term"]["expire"] == 60
    assert cache_regions["second"]["expire"] == 1


def test_sessions_persist_with_the_configured_cookie(server: str, tmp_path: Path) -> None:
    browser = Browser(server)
    assert _text(browser, "/new") == "True"
    assert [_text(browser, "/count") for _ in range(3)] == ["1", "2", "3"]
    assert browser.cookie("mykey") is not None
    assert _text(browser, "/new") == "False"
    assert list((tmp_path / "data" / "sessions" / "data").rglob("*"))
    assert Browser(server) and _text(Browser(server), "/count") == "1"


def test_flash_and_csrf(server: str) -> None:
    browser = Browser(server)
    _text(browser, "/flash")
    _text(browser, "/flash")
    assert _text(browser, "/read_flash") == "hello,hello"
    assert _text(browser, "/read_flash") == ""
    token = _text(browser, "/csrf")
    assert len(token) == 40 and _text(browser, "/csrf") == token


def test_cookie_on_exception(server: str) -> None:
    browser = Browser(server)
    with pytest.raises(urllib.error.HTTPError) as info:
        _text(browser, "/boom")
    error = info.value
    try:
        assert error.code == 500
        assert "mykey=" in (error.headers.get("Set-Cookie") or "")
    finally:
        error.close()


def test_cache_region_decorated_function(server: str) -> None:
    browser = Browser(server)
    assert _text(browser, "/cached/abc") == "ABC"
    assert _text(browser, "/cached/abc") == "ABC"
    assert _text(browser, "/cached/xyz") == "XYZ"
    assert CALLS["slow"] == 2
