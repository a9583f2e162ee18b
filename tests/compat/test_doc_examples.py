"""Every code example of the Beaker documentation (``/work/shared/seeds``) run against this
package, with its documented result.

Paths such as ``/tmp/cache/data`` become per-test temporary directories; ``get_data``,
``load_the_data`` and ``database.query`` (left undefined by the documentation) are small
stand-ins that record their calls; Python 2 ``return ['...' % x]`` bodies return bytes.
Examples that name a memcached server use the test server (``BEAKER_TEST_MEMCACHED``).
"""

from __future__ import annotations

import configparser
import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import webob
import webtest

from beaker.cache import CacheManager, cache_region, cache_regions, region_invalidate
from beaker.compat.exceptions import MissingCacheParameter
from beaker.middleware import SessionMiddleware
from beaker.util import parse_cache_config_options

Environ = dict[str, Any]
calls: list[Any] = []


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    calls.clear()


def get_data(search_param: str) -> str:
    calls.append(search_param)
    return f"data for {search_param}"


def load_the_data(search_term: str, limit: int, offset: int) -> list[str]:
    calls.append((search_term, limit, offset))
    return [f"{search_term}-{i}" for i in range(offset, offset + limit)]


class _Database:
    def query(self, term: str) -> list[str]:
        calls.append(term)
        return [f"{term}{i}" for i in range(10)]


database = _Database()


# -- Configuration ----------------------------------------------------------------------------


def test_ini_cookie_expires_true_omits_expires(tmp_path: Path) -> None:
    """``beaker.session.cookie_expires = true`` in a Pylons INI file: no ``expires=``."""
    parser = configparser.ConfigParser()
    parser.read_string("[app:main]\nbeaker.session.cookie_expires = true\n")
    settings = dict(parser["app:main"])

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["beaker.session"]["x"] = 1
        environ["beaker.session"].save()
        start_response("200 OK", [])
        return [b""]

    header = webtest.TestApp(SessionMiddleware(app, settings)).get("/").headers["Set-Cookie"]
    assert "expires" not in header.lower()


def test_ini_data_dir_and_lock_dir_with_here(tmp_path: Path) -> None:
    """``beaker.session.data_dir = %(here)s/data/sessions/data`` (and ``lock_dir``)."""
    parser = configparser.ConfigParser(defaults={"here": str(tmp_path)})
    parser.read_string(
        "[app:main]\n"
        "beaker.session.data_dir = %(here)s/data/sessions/data\n"
        "beaker.session.lock_dir = %(here)s/data/sessions/lock\n"
    )
    settings = {k: v for k, v in parser["app:main"].items() if k != "here"}

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["beaker.session"]["x"] = 1
        environ["beaker.session"].save()
        start_response("200 OK", [])
        return [b""]

    webtest.TestApp(SessionMiddleware(app, settings)).get("/")
    assert (tmp_path / "data" / "sessions" / "data").is_dir()


def test_stand_alone_session_middleware_options() -> None:
    """``SessionMiddleware(app, {'session.cookie_expires': True})``."""

    def some_wsgi_app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["beaker.session"]["seen"] = True
        environ["beaker.session"].save()
        start_response("200 OK", [])
        return [b"ok"]

    session_opts = {"session.cookie_expires": True}
    app = some_wsgi_app
    app = SessionMiddleware(app, session_opts)
    assert webtest.TestApp(app).get("/").text == "ok"


def test_cache_manager_from_parsed_options(tmp_path: Path) -> None:
    """``CacheManager(**parse_cache_config_options(cache_opts))`` with a file cache."""
    cache_opts = {
        "cache.type": "file",
        "cache.data_dir": str(tmp_path / "cache" / "data"),
        "cache.lock_dir": str(tmp_path / "cache" / "lock"),
    }
    cache = CacheManager(**parse_cache_config_options(cache_opts))
    assert cache.get_cache("ns").type == "file"


def test_memcached_session_options(memcached_servers: str) -> None:
    """``{'session.type': 'ext:memcached', 'session.url': '127.0.0.1:11211'}``."""
    session_opts = {"session.type": "ext:memcached", "session.url": memcached_servers}

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        session["n"] = session.get("n", 0) + 1
        session.save()
        start_response("200 OK", [])
        return [str(session["n"]).encode()]

    client = webtest.TestApp(SessionMiddleware(app, session_opts))
    assert [client.get("/").text for _ in range(2)] == ["1", "2"]


def test_region_options_short_term_memcached_long_term_file(
    tmp_path: Path, memcached_servers: str
) -> None:
    """The ``short_term`` / ``long_term`` regions example of the configuration docs."""
    cache_opts = {
        "cache.data_dir": str(tmp_path / "data"),
        "cache.lock_dir": str(tmp_path / "lock"),
        "cache.regions": "short_term, long_term",
        "cache.short_term.type": "ext:memcached",
        "cache.short_term.url": memcached_servers,
        "cache.short_term.expire": "3600",
        "cache.long_term.type": "file",
        "cache.long_term.expire": "86400",
    }
    cache = CacheManager(**parse_cache_config_options(cache_opts))
    assert cache.get_cache_region("ns", "short_term").type == "ext:memcached"
    assert cache.get_cache_region("ns", "long_term").expiretime == 86400


def test_region_options_parse_without_a_server(tmp_path: Path) -> None:
    """The same regions example, checking only the parsed configuration."""
    options = parse_cache_config_options(
        {
            "cache.data_dir": "/tmp/cache/data",
            "cache.lock_dir": "/tmp/cache/lock",
            "cache.regions": "short_term, long_term",
            "cache.short_term.type": "ext:memcached",
            "cache.short_term.url": "127.0.0.1:11211",
            "cache.short_term.expire": "3600",
            "cache.long_term.type": "file",
            "cache.long_term.expire": "86400",
        }
    )
    assert options["cache_regions"]["short_term"]["expire"] == 3600
    assert options["cache_regions"]["short_term"]["url"] == "127.0.0.1:11211"
    assert options["cache_regions"]["long_term"] == {
        "data_dir": "/tmp/cache/data",
        "lock_dir": "/tmp/cache/lock",
        "type": "file",
        "enabled": True,
        "expire": 86400,
        "key_length": 250,
    }


# -- Sessions -----------------------------------------------------------------------------------


def test_session_dict_interface() -> None:
    """``myvar = session['somekey']``, ``'user_id' in session``, ``session['name'] = ...``."""

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        session["somekey"] = "value"
        myvar = session["somekey"]
        logged_in = "user_id" in session
        session["name"] = "Fred Smith"
        start_response("200 OK", [])
        return [f"{myvar} {logged_in} {session['name']}".encode()]

    assert webtest.TestApp(SessionMiddleware(app, {})).get("/").text == "value False Fred Smith"


def simple_app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    # Get the session object from the environ
    session = environ["beaker.session"]

    # Check to see if a value is in the session
    user = "logged_in" in session

    # Set some other session variable
    session["user_id"] = 10

    start_response("200 OK", [("Content-type", "text/plain")])
    return [b"User is logged in: %s" % str(user).encode()]


def test_complete_session_example(tmp_path: Path) -> None:
    """The "complete example using a basic WSGI app", which does not save the session."""
    session_opts = {
        "session.type": "file",
        "session.cookie_expires": True,
        "session.data_dir": str(tmp_path),  # the file type needs it (see data_dir)
    }
    wsgi_app = SessionMiddleware(simple_app, session_opts)
    client = webtest.TestApp(wsgi_app)
    first = client.get("/")
    assert first.text == "User is logged in: False"
    assert "Set-Cookie" not in first.headers  # not saved: nothing for the next request
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # and nothing stored


def test_complete_session_example_as_printed_needs_data_dir() -> None:
    """As printed, the example has no ``data_dir``; the file type needs one."""
    with pytest.raises(MissingCacheParameter) as info:
        SessionMiddleware(simple_app, {"session.type": "file", "session.cookie_expires": True})
    assert info.value.option == "data_dir"


def test_save_and_persist(tmp_path: Path) -> None:
    """``session.save()`` flags the session to be written at the end of the request;
    ``session.persist()`` writes it at once."""
    observed: dict[str, Any] = {}

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        path = environ["PATH_INFO"]
        session["v"] = path
        if path == "/persist":
            # persist() writes the whole session once save() has flagged it (otherwise,
            # by Beaker's rules, only the access time of the loaded data)
            session.save()
            session.persist()
            other = environ["beaker.session"].get_by_id(session.id)
            observed["during"] = None if other is None else other["v"]
        else:
            session.save()
            observed["during"] = environ["beaker.session"].get_by_id(session.id)
        start_response("200 OK", [])
        return [b""]

    client = webtest.TestApp(SessionMiddleware(app, {"session.data_dir": str(tmp_path)}))
    client.get("/save")
    assert observed["during"] is None  # save(): not written yet during the request
    client.get("/persist")
    assert observed["during"] == "/persist"  # persist(): written immediately


def _count_app(save_first: bool) -> Callable[[Environ, Callable[..., Any]], Iterable[bytes]]:
    # The documentation's werkzeug example; WebOb behaves the same ("this would apply to
    # WebOb and possibly others too").
    def sessions_work(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["beaker.session"]["count"] += 1
        resp = webob.Response("hello")
        environ["beaker.session"].save()
        return resp(environ, start_response)

    def sessions_broken(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["beaker.session"]["count"] += 1
        resp = webob.Response("hello")
        retval = resp(environ, start_response)
        environ["beaker.session"].save()
        return retval

    return sessions_work if save_first else sessions_broken


@pytest.mark.parametrize(("save_first", "expected"), [(True, 3), (False, 1)])
def test_order_matters_save_before_start_response(
    tmp_path: Path, save_first: bool, expected: int
) -> None:
    """``sessions_work`` saves before the response starts; ``sessions_broken`` after."""
    target = _count_app(save_first)

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        if environ["PATH_INFO"] == "/init":
            session["count"] = 1
            session.save()
            start_response("200 OK", [])
            return [b""]
        if environ["PATH_INFO"] == "/show":
            start_response("200 OK", [])
            return [str(session["count"]).encode()]
        return target(environ, start_response)

    client = webtest.TestApp(SessionMiddleware(app, {"session.data_dir": str(tmp_path)}))
    client.get("/init")
    client.get("/")
    client.get("/")
    assert client.get("/show").text == str(expected)


def test_delete_and_invalidate(tmp_path: Path) -> None:
    """``session.delete()`` removes it and expires the cookie; ``session.invalidate()``
    starts a new session in the same request."""

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        path = environ["PATH_INFO"]
        if path == "/delete":
            session.delete()
        elif path == "/invalidate":
            session.invalidate()
            session["fresh"] = True
            session.save()
        elif path == "/login":
            session["user"] = "fred"
            session.save()
        start_response("200 OK", [])
        return [repr(sorted(k for k in session if not k.startswith("_"))).encode()]

    client = webtest.TestApp(SessionMiddleware(app, {"session.data_dir": str(tmp_path)}))
    client.get("/login")
    assert client.get("/").text == "['user']"
    response = client.get("/delete")
    assert "1970" in response.headers["Set-Cookie"]
    assert client.get("/").text == "[]"
    client.get("/login")
    assert client.get("/invalidate").text == "['fresh']"
    assert client.get("/").text == "['fresh']"


def test_cookie_domain_and_path_example() -> None:
    """``session.domain = '.domain.com'`` and ``session.path = '/admin'``."""

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        # Setting the session's cookie domain and path
        session.domain = ".domain.com"
        session.path = "/admin"
        session["x"] = 1
        session.save()
        start_response("200 OK", [])
        return [b""]

    header = webtest.TestApp(SessionMiddleware(app, {})).get("/").headers["Set-Cookie"]
    assert "Domain=.domain.com" in header and "Path=/admin" in header


def test_cookie_based_sessions_and_encryption() -> None:
    """``session.type = cookie``: data in the cookie, signed; with ``encrypt_key`` hidden."""

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        session["user"] = "fred-the-admin"
        session.save()
        start_response("200 OK", [])
        return [b""]

    plain = webtest.TestApp(
        SessionMiddleware(app, {"session.type": "cookie", "session.validate_key": "v"})
    )
    sealed = webtest.TestApp(
        SessionMiddleware(
            app,
            {
                "session.type": "cookie",
                "session.validate_key": "v",
                "session.encrypt_key": "e" * 32,
            },
        )
    )
    import base64

    for client in (plain, sealed):
        client.get("/")
    value = sealed.cookies["beaker.session.id"]
    decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert b"fred-the-admin" not in decoded


# -- Caching ------------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path) -> CacheManager:
    """Creating the CacheManager instance (the documentation's ``cache``)."""
    cache_opts = {
        "cache.type": "file",
        "cache.data_dir": str(tmp_path / "cache" / "data"),
        "cache.lock_dir": str(tmp_path / "cache" / "lock"),
        "cache.regions": "short_term, long_term",
        "cache.short_term.type": "memory",
        "cache.short_term.expire": "60",
        "cache.long_term.expire": "3600",
    }
    return CacheManager(**parse_cache_config_options(cache_opts))


def test_programmatic_api(cache: CacheManager) -> None:
    """``get_cache('mytemplate.html', type='dbm', expire=3600)``, ``get(key=...,
    createfunc=...)``, ``clear()``, ``remove_value(key=...)``."""
    tmpl_cache = cache.get_cache("mytemplate.html", type="dbm", expire=3600)
    search_param = "gophers"

    def get_results() -> str:
        # do something to retrieve data
        data = get_data(search_param)
        return data

    results = tmpl_cache.get(key=search_param, createfunc=get_results)
    assert results == "data for gophers"
    assert tmpl_cache.get(key=search_param, createfunc=get_results) == results
    assert calls == ["gophers"]
    tmpl_cache.clear()
    tmpl_cache.get(key=search_param, createfunc=get_results)
    tmpl_cache.remove_value(key=search_param)
    assert search_param not in tmpl_cache
    assert calls == ["gophers", "gophers"]


def test_decorator_api_and_invalidate(cache: CacheManager) -> None:
    """``@cache.cache('my_search_func', expire=3600)`` and
    ``cache.invalidate(get_results, 'my_search_func', 'gophers')``."""

    @cache.cache("my_search_func", expire=3600)
    def get_results(search_param: str) -> str:
        # do something to retrieve data
        data = get_data(search_param)
        return data

    results = get_results("gophers")
    assert results == get_results("gophers") == "data for gophers"
    assert calls == ["gophers"]
    cache.invalidate(get_results, "my_search_func", "gophers")
    get_results("gophers")
    assert calls == ["gophers", "gophers"]


def test_decorator_api_with_type_and_invalidate_with_type(cache: CacheManager) -> None:
    """``@cache.cache('my_search_func', type="file", expire=3600)`` and
    ``cache.invalidate(get_results, 'my_search_func', 'gophers', type="file")``."""

    @cache.cache("my_search_func", type="file", expire=3600)
    def get_results(search_param: str) -> str:
        data = get_data(search_param)
        return data

    get_results("gophers")
    get_results("gophers")
    cache.invalidate(get_results, "my_search_func", "gophers", type="file")
    get_results("gophers")
    assert calls == ["gophers", "gophers"]


def test_region_decorator_and_region_invalidate(cache: CacheManager) -> None:
    """``@cache.region('short_term', 'my_search_func')`` and
    ``cache.region_invalidate(get_results, None, 'my_search_func', 'gophers')``."""

    @cache.region("short_term", "my_search_func")
    def get_results(search_param: str) -> str:
        data = get_data(search_param)
        return data

    results = get_results("gophers")
    assert results == get_results("gophers")
    cache.region_invalidate(get_results, None, "my_search_func", "gophers")
    get_results("gophers")
    assert calls == ["gophers", "gophers"]


def test_cache_region_decorator_and_module_region_invalidate(cache: CacheManager) -> None:
    """``@cache_region('short_term', 'my_search_func')`` and
    ``region_invalidate(get_results, None, 'my_search_func', 'gophers')``."""

    @cache_region("short_term", "my_search_func")
    def get_results(search_param: str) -> str:
        data = get_data(search_param)
        return data

    results = get_results("gophers")
    assert results == get_results("gophers")
    region_invalidate(get_results, None, "my_search_func", "gophers")
    get_results("gophers")
    assert calls == ["gophers", "gophers"]


def test_cache_region_decorates_before_configuration() -> None:
    """ "The cache does not need to be configured when its used": decorate, configure, call."""

    @cache_region("short_term", "my_search_func")
    def get_results(search_param: str) -> str:
        return get_data(search_param)

    cache_regions.update({"short_term": {"expire": "60", "type": "memory"}})
    assert get_results("gophers") == get_results("gophers")
    assert calls == ["gophers"]


def test_module_cache_regions_update(tmp_path: Path) -> None:
    """``cache_regions.update({'short_term': {...memory}, 'long_term': {...dbm}})``."""
    cache_regions.update(
        {
            "short_term": {"expire": "60", "type": "memory"},
            "long_term": {"expire": "1800", "type": "dbm", "data_dir": str(tmp_path)},
        }
    )

    @cache_region("long_term", "x")
    def slow(n: int) -> int:
        calls.append(n)
        return n * 2

    assert slow(2) == slow(2) == 4
    assert calls == [2]
    assert list((tmp_path / "beaker_dbm").iterdir())


def test_cache_region_load_example() -> None:
    """``@cache_region('short_term', 'load_things') def load(search_term, limit, offset)``."""
    # configure regions
    cache_regions.update({"short_term": {"expire": "60", "type": "memory"}})

    @cache_region("short_term", "load_things")
    def load(search_term: str, limit: int, offset: int) -> list[str]:
        """Load from a database given a search term, limit, offset."""
        return database.query(search_term)[offset : offset + limit]

    assert load("cat", 2, 1) == ["cat1", "cat2"] == load("cat", 2, 1)
    assert calls == ["cat"]


def test_cache_region_methods_and_classmethods() -> None:
    """``self`` / ``cls`` are not part of the key (new in 1.6)."""
    cache_regions.update({"short_term": {"expire": "60", "type": "memory"}})

    class MyThing:
        @cache_region("short_term", "load_things")
        def load(self, search_term: str, limit: int, offset: int) -> list[str]:
            """Load from a database given a search term, limit, offset."""
            return database.query(search_term)[offset : offset + limit]

    class MyOtherThing:
        @classmethod
        @cache_region("short_term", "load_things")
        def load(cls, search_term: str, limit: int, offset: int) -> list[str]:
            """Load from a database given a search term, limit, offset."""
            return database.query(search_term)[offset : offset + limit]

    assert MyThing().load("a", 1, 0) == MyThing().load("a", 1, 0) == ["a0"]
    assert calls == ["a"]  # two instances, one cached value
    assert MyOtherThing.load("b", 1, 0) == MyOtherThing.load("b", 1, 0) == ["b0"]
    assert calls == ["a", "b"]


def test_region_invalidate_examples() -> None:
    """``invalidate_search`` as a function and as a method (``self.load``)."""
    cache_regions.update({"short_term": {"expire": "60", "type": "memory"}})

    @cache_region("short_term", "load_data")
    def load(search_term: str, limit: int, offset: int) -> list[str]:
        """Load from a database given a search term, limit, offset."""
        return database.query(search_term)[offset : offset + limit]

    def invalidate_search(search_term: str, limit: int, offset: int) -> None:
        """Invalidate the cached storage for a given search term, limit, offset."""
        region_invalidate(load, "short_term", "load_data", search_term, limit, offset)

    class MyThing:
        @cache_region("short_term", "some_data")
        def load(self, search_term: str, limit: int, offset: int) -> list[str]:
            """Load from a database given a search term, limit, offset."""
            return database.query(search_term)[offset : offset + limit]

        def invalidate_search(self, search_term: str, limit: int, offset: int) -> None:
            """Invalidate the cached storage for a given search term, limit, offset."""
            region_invalidate(self.load, "short_term", "some_data", search_term, limit, offset)

    load("x", 1, 0)
    load("x", 1, 0)
    invalidate_search("x", 1, 0)
    load("x", 1, 0)
    thing = MyThing()
    thing.load("y", 1, 0)
    thing.load("y", 1, 0)
    thing.invalidate_search("y", 1, 0)
    thing.load("y", 1, 0)
    assert calls == ["x", "x", "y", "y"]


def test_cache_manager_method_examples(cache: CacheManager) -> None:
    """``CacheManager.cache`` / ``invalidate`` / ``region`` / ``region_invalidate`` examples
    (``populate_things``), from the API reference (seeds 000 and 001)."""

    def populate_things() -> list[str]:
        @cache.cache("mycache", expire=15)
        def load(search_term: str, limit: int, offset: int) -> list[str]:
            return load_the_data(search_term, limit, offset)

        return load("rabbits", 20, 0)

    def populate_things_invalidate(invalidate: bool = False) -> list[str]:
        @cache.cache("mycache", type="file", expire=15)
        def load(search_term: str, limit: int, offset: int) -> list[str]:
            return load_the_data(search_term, limit, offset)

        # If the results should be invalidated first
        if invalidate:
            cache.invalidate(load, "mycache", "rabbits", 20, 0, type="file")
        return load("rabbits", 20, 0)

    def populate_things_region(invalidate: bool = False) -> list[str]:
        @cache.region("short_term", "some_data")
        def load(search_term: str, limit: int, offset: int) -> list[str]:
            return load_the_data(search_term, limit, offset)

        # If the results should be invalidated first
        if invalidate:
            cache.region_invalidate(load, None, "some_data", "rabbits", 20, 0)
        return load("rabbits", 20, 0)

    assert populate_things() == populate_things()
    assert len(calls) == 1  # the function is redefined each time; its namespace is the same
    populate_things_invalidate()
    populate_things_invalidate()
    assert len(calls) == 1  # same namespace and key as populate_things' file cache
    populate_things_invalidate(invalidate=True)
    assert len(calls) == 2
    populate_things_region()
    populate_things_region()
    assert len(calls) == 3
    populate_things_region(invalidate=True)
    assert len(calls) == 4


def test_file_removal_of_old_sessions_is_left_to_the_application() -> None:
    """The docs' ``find . -mtime +3 -exec rm {} \\;`` relies on Beaker's one-file-per-session
    layout; here expired server-side sessions carry their deadline and ``beaker sessions
    purge`` removes them (see beaker.sessions.purge)."""
    purge = importlib.util.find_spec("beaker.sessions.purge")
    assert purge is not None


# -- Examples from the Beaker project page's issue threads (seed 003) -------------------------


def _info_app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    session = environ["beaker.session"]
    if environ["PATH_INFO"] == "/":
        session["info"] = "..."
        session.save()
    start_response("200 OK", [])
    return [str(session.get("info")).encode()]


def test_cookie_session_information_is_carried_across_requests() -> None:
    """ "session information not carried across requests": GET sets ``session['info']``;
    two POSTs later it is still there."""
    session_opts = {
        "session.type": "cookie",
        "session.validate_key": "some secret",
        "session.cookie_expires": 3600 * 24 * 90,
    }
    client = webtest.TestApp(SessionMiddleware(_info_app, session_opts))
    client.get("/")
    assert client.post("/foo").text == "..."
    assert client.post("/bar").text == "..."


def test_samesite_flag_is_set_on_the_first_cookie() -> None:
    """ "Samesite flag not set": the attribute must be there on creation, not only on delete."""
    session_opts = {"session.key": "oncall-auth", "session.samesite": "Lax"}
    response = webtest.TestApp(SessionMiddleware(_info_app, session_opts)).get("/")
    assert response.headers["Set-Cookie"].startswith("oncall-auth=")
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def test_cookie_session_honours_cookie_path() -> None:
    """ "Fix path for CookieSession": ``cookie_path`` applies to a new cookie and after
    ``delete()``."""
    opts = {"session.type": "cookie", "session.validate_key": "v", "session.cookie_path": "/app"}

    def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        session = environ["beaker.session"]
        if environ["PATH_INFO"].endswith("/delete"):
            session.delete()
        else:
            session["x"] = 1
            session.save()
        start_response("200 OK", [])
        return [b""]

    client = webtest.TestApp(SessionMiddleware(app, opts))
    assert "Path=/app" in client.get("/app/").headers["Set-Cookie"]
    assert "Path=/app" in client.get("/app/delete").headers["Set-Cookie"]


def test_changed_encrypt_key_gives_a_fresh_session_not_a_key_error() -> None:
    """ "KeyError on session encrypt_key update": old cookies must not break requests."""
    old = {"session.type": "cookie", "session.validate_key": "v", "session.encrypt_key": "old"}
    client = webtest.TestApp(SessionMiddleware(_info_app, old))
    client.get("/")
    cookie = client.cookies["beaker.session.id"]
    new = webtest.TestApp(SessionMiddleware(_info_app, {**old, "session.encrypt_key": "new"}))
    new.set_cookie("beaker.session.id", cookie)
    assert new.get("/other").text == "None"


def test_expiretime_keyword_is_accepted(redis_url: str) -> None:
    """``SessionMiddleware(app, config, expiretime=5000)`` ("pass expiretime into
    RedisNamespaceManager"): accepted; idle sessions get their TTL from ``timeout``."""
    config = {"session.type": "ext:redis", "session.url": redis_url, "session.timeout": "300"}
    client = webtest.TestApp(SessionMiddleware(_info_app, config, expiretime=5000))
    assert client.get("/").text == "..."


def test_redis_password_with_special_characters_percent_encoded() -> None:
    """ "Redis ext cannot handle passwords with special URL characters": percent-encode
    them and they are decoded."""
    from beaker.cache import Cache

    cache = Cache("ns", type="ext:redis", url="redis://:my%23pass@127.0.0.1:6379/1")
    client = cache._core.store.live_client()
    assert client.connection_pool.connection_kwargs["password"] == "my#pass"


def test_redis_client_object_as_url(redis_url: str) -> None:
    """The workaround from the same thread: pass a ready ``StrictRedis`` as the url."""
    from redis import StrictRedis

    db = StrictRedis.from_url(redis_url)
    settings = {"beaker.session.type": "ext:redis", "beaker.session.url": db}
    client = webtest.TestApp(SessionMiddleware(_info_app, settings))
    client.get("/")
    assert client.get("/again").text == "..."
