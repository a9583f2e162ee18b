"""The session cookie: attributes on the first Set-Cookie, cookie_expires, cookie_path for
cookie-only sessions (a browser honours it), size limit, header parsing and encoding."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webtest import TestApp

from beaker.errors import ComponentTypeError, ConfigError, CookieTooLarge, DeserializationError
from beaker.serializers.aead import AESGCMEncrypter
from beaker.sessions import CookieSettings, SessionMiddleware, cookie_only, server_side
from beaker.sessions.cookies import FAR_FUTURE, cookie_values, decode_value, encode_value
from beaker.stores.memory import MemoryStore
from beaker.testing import FakeClock

from .conftest import counter_app


def parse(header: str) -> tuple[str, str, dict[str, str]]:
    """(name, value, {lower-case attribute: value}) of a Set-Cookie value."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    found = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        found[key.lower()] = val
    return name, value, found


ALL_KINDS = ["server", "server-signed", "cookie-signed", "cookie-encrypted"]


def sessions_of(kind: str, **options: Any) -> Any:
    if kind == "server":
        return server_side(MemoryStore(), **options)
    if kind == "server-signed":
        return server_side(MemoryStore(), secret="s", **options)
    if kind == "cookie-signed":
        return cookie_only("k", **options)
    return cookie_only(AESGCMEncrypter("k"), **options)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_first_set_cookie_carries_every_attribute(kind: str, clock: FakeClock) -> None:
    cookie = CookieSettings(
        name="sid", path="/app", domain="example.com", secure=True, samesite="Strict", expires=3600
    )
    app = TestApp(SessionMiddleware(counter_app, sessions_of(kind, cookie=cookie, clock=clock)))
    response = app.get(
        "/app/", extra_environ={"HTTP_HOST": "example.com", "wsgi.url_scheme": "https"}
    )
    [header] = response.headers.getall("Set-Cookie")
    name, value, attributes = parse(header)
    assert name == "sid" and value
    assert attributes["path"] == "/app"
    assert attributes["domain"] == "example.com"
    assert attributes["samesite"] == "Strict"
    assert "secure" in attributes and "httponly" in attributes
    assert attributes["max-age"] == "3600"
    assert parsedate_to_datetime(attributes["expires"]).timestamp() == clock.now + 3600


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_defaults_lax_path_root_far_future(kind: str, clock: FakeClock) -> None:
    app = TestApp(SessionMiddleware(counter_app, sessions_of(kind, clock=clock)))
    [header] = app.get("/").headers.getall("Set-Cookie")
    name, _, attributes = parse(header)
    assert name == "beaker.session.id"
    assert attributes["samesite"] == "Lax"
    assert attributes["path"] == "/"
    assert "domain" not in attributes and "secure" not in attributes
    assert "httponly" in attributes
    assert attributes["max-age"] == str(FAR_FUTURE)
    # the header is what http.cookies itself would parse back
    parsed = SimpleCookie(header)
    assert parsed["beaker.session.id"]["samesite"] == "Lax"


def test_cookie_path_works_for_cookie_only_sessions(clock: FakeClock) -> None:
    sessions = cookie_only("k", cookie=CookieSettings(path="/app"), clock=clock)
    app = TestApp(SessionMiddleware(counter_app, sessions))
    first = app.get("/app/count").json
    [header] = app.get("/app/count").headers.getall("Set-Cookie")
    assert parse(header)[2]["path"] == "/app"
    assert app.get("/app/count").json["count"] == 3  # the browser sends it under /app ...
    assert app.get("/peek").json["count"] == 0  # ... and not elsewhere
    assert app.get("/app/peek").json["id"] == first["id"]


def test_session_domain_and_path_can_be_changed_per_session(clock: FakeClock) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["beaker.session"]
        session.domain = ".example.org"
        session.path = "/admin"
        session["a"] = 1
        session.save()
        start_response("200 OK", [])
        return [b""]

    response = TestApp(SessionMiddleware(app, cookie_only("k", clock=clock))).get("/admin/")
    attributes = parse(response.headers["Set-Cookie"])[2]
    assert attributes["domain"] == ".example.org" and attributes["path"] == "/admin"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_cookie_lifetime_can_be_changed_per_session(kind: str, clock: FakeClock) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["beaker.session"]
        assert session.cookie_expires is False  # the configured lifetime
        session.cookie_expires = True if environ["PATH_INFO"] == "/browser" else 60
        session["a"] = 1
        session.save()
        start_response("200 OK", [])
        return [b""]

    browser = TestApp(SessionMiddleware(app, sessions_of(kind, clock=clock)))
    assert "max-age" not in parse(browser.get("/browser").headers["Set-Cookie"])[2]
    assert parse(browser.get("/short").headers["Set-Cookie"])[2]["max-age"] == "60"
    session = cookie_only("k", clock=clock).open(None)
    with pytest.raises(ConfigError):
        session.cookie_expires = -5
    with pytest.raises(ComponentTypeError):
        session.cookie_expires = "soon"  # type: ignore[assignment]
    session.cookie_expires = None
    assert session.cookie_expires is False


def test_browser_session_cookie_has_no_expiry() -> None:
    header = CookieSettings(expires=True).set_cookie("v", 0.0)
    assert "expires" not in header.lower() and "max-age" not in header.lower()


@pytest.mark.parametrize(
    ("expires", "max_age"),
    [
        (False, FAR_FUTURE),
        (300, 300),
        (2.5, 2),
        (dt.timedelta(hours=1), 3600),
        (dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), 7 * 24 * 3600),
        (dt.datetime(2024, 1, 1), 7 * 24 * 3600),  # naive = UTC
        (dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), 0),  # in the past
    ],
)
def test_cookie_expires_forms(expires: Any, max_age: int) -> None:
    now = dt.datetime(2023, 12, 25, tzinfo=dt.timezone.utc).timestamp()
    attributes = parse(CookieSettings(expires=expires).set_cookie("v", now))[2]
    assert attributes["max-age"] == str(max_age)
    assert parsedate_to_datetime(attributes["expires"]).timestamp() == now + max_age


def test_delete_cookie() -> None:
    header = CookieSettings(path="/p", domain="d.example").delete_cookie()
    name, value, attributes = parse(header)
    assert (name, value) == ("beaker.session.id", "")
    assert attributes["max-age"] == "0" and attributes["path"] == "/p"
    assert parsedate_to_datetime(attributes["expires"]).year == 1970


def test_too_large_cookie_session_raises_at_save(clock: FakeClock) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["beaker.session"]
        session["big"] = "x" * 3000
        with pytest.raises(CookieTooLarge) as caught:
            session.save()
        assert caught.value.limit == 4096 and caught.value.size > 4096
        session["big"] = "x" * 100
        session.save()
        start_response("200 OK", [])
        return [b"ok"]

    response = TestApp(SessionMiddleware(app, cookie_only("k", clock=clock))).get("/")
    assert len(response.headers["Set-Cookie"]) < 4096


def test_size_limit_counts_the_whole_header() -> None:
    settings_ = CookieSettings(max_size=100)
    with pytest.raises(CookieTooLarge):
        settings_.set_cookie("v" * 40, 0.0)  # short value, but with attributes > 100 bytes
    CookieSettings(max_size=100, expires=True).set_cookie("v" * 40, 0.0)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"name": "bad name"}, ConfigError),
        ({"name": 3}, ComponentTypeError),
        ({"path": "/a;b"}, ConfigError),
        ({"path": "/a\r\nSet-Cookie: x=y"}, ConfigError),
        ({"path": "relative"}, ConfigError),
        ({"domain": "a b"}, ConfigError),
        ({"samesite": "lax"}, ConfigError),
        ({"samesite": "None"}, ConfigError),  # without secure
        ({"secure": "yes"}, ComponentTypeError),
        ({"expires": 0}, ConfigError),
        ({"expires": "300"}, ComponentTypeError),
        ({"max_size": 10}, ConfigError),
    ],
)
def test_bad_settings_are_refused(arguments: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        CookieSettings(**arguments)


def test_samesite_none_with_secure_and_no_samesite() -> None:
    assert "SameSite=None" in CookieSettings(samesite="None", secure=True).set_cookie("v", 0.0)
    assert "samesite" not in CookieSettings(samesite=None).set_cookie("v", 0.0).lower()


def test_per_session_override_is_validated(clock: FakeClock) -> None:
    with pytest.raises(ConfigError):
        CookieSettings().set_cookie("v", 0.0, path="/x;Domain=evil.example")
    session = cookie_only("k", clock=clock).open(None)
    with pytest.raises(ConfigError):
        session.path = "/a\r\nSet-Cookie: evil=1"
    with pytest.raises(ConfigError):
        session.domain = "a.example; Secure"
    session.path = None
    assert session.path == "/"


def test_cookie_header_parsing_survives_other_apps_cookies() -> None:
    header = 'a={"x": 1}; bad cookie=2; sid=abc; other="q"; sid="def"; sid="g'
    assert cookie_values(header, "sid") == ["abc", "def", '"g']
    assert cookie_values(header, "missing") == []
    assert cookie_values(None, "sid") == []
    assert cookie_values("xsid=1; sidx=2", "sid") == []


def test_session_survives_a_malformed_foreign_cookie(clock: FakeClock) -> None:
    app = TestApp(SessionMiddleware(counter_app, cookie_only("k", clock=clock)))
    app.get("/")
    value = app.cookies["beaker.session.id"]
    app.cookiejar.clear()
    header = f'theme={{"dark": true}}; beaker.session.id={value}'
    assert app.get("/", headers={"Cookie": header}).json["count"] == 2


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_value_encoding_round_trips_and_is_text_safe(data: bytes) -> None:
    text = encode_value(data)
    assert decode_value(text) == data
    assert all(c.isalnum() or c in "-_" for c in text)


@pytest.mark.parametrize("text", ["a", "ab=", "a+b/", "é", "ab c", "AB"])
def test_value_decoding_refuses_anything_else(text: str) -> None:
    # "AB" decodes with non-zero padding bits: a second spelling of b"\x00" ("AA")
    with pytest.raises(DeserializationError):
        decode_value(text)
