"""Switching from Beaker 1.14.1 does not log users out: sessions real Beaker wrote (file and
ext:redis types) are found, with their data, when the browser's Beaker cookie comes back to
this package configured with the same options; the cookie is then re-issued in our format.
Cookie-only Beaker sessions do not carry over (their data would have to be unpickled from the
client) and start afresh."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import webtest

from beaker.middleware import SessionMiddleware
from tests.compat import _real_beaker

Environ = dict[str, Any]

WRITE_WITH_BEAKER = """
import webtest
from beaker.middleware import SessionMiddleware

def app(environ, start_response):
    session = environ["beaker.session"]
    session["user"] = "alice"
    session["cart"] = [1, 2, 3]
    session["n"] = session.get("n", 0) + 1
    session.save()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

client = webtest.TestApp(SessionMiddleware(app, {opts!r}))
client.get("/")
client.get("/")
result = {{"cookie": client.cookies["{key}"]}}
"""


def app(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    session = environ["beaker.session"]
    if environ["PATH_INFO"] == "/save":
        session["n"] = session.get("n", 0) + 1
        session.save()
    body = {k: session.get(k) for k in ("user", "cart", "n")}
    body["new"] = session.is_new
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def _beaker_cookie(opts: dict[str, Any], key: str = "beaker.session.id") -> str:
    result = _real_beaker.run(WRITE_WITH_BEAKER.format(opts=opts, key=key))
    return str(dict(result)["cookie"])


def _check_migration(opts: dict[str, Any], cookie: str, signed: bool) -> None:
    if signed:
        assert re.fullmatch(r"[0-9a-f]{72}", cookie)  # Beaker's HMAC-SHA1 hex + id
    client = webtest.TestApp(SessionMiddleware(app, opts))
    client.set_cookie("beaker.session.id", cookie)
    read = client.get("/")
    assert read.json == {"user": "alice", "cart": [1, 2, 3], "n": 2, "new": False}
    saved = client.get("/save")
    assert saved.json["n"] == 3
    new_cookie = client.cookies["beaker.session.id"].strip('"')  # as WebTest quotes its own
    if signed:  # re-issued in our format (HMAC-SHA256)
        assert new_cookie != cookie and not re.fullmatch(r"[0-9a-f]{72}", new_cookie)
    else:  # a bare id is the same in both formats: not sent again, as Beaker
        assert "Set-Cookie" not in saved.headers and new_cookie == cookie
    fresh_client = webtest.TestApp(SessionMiddleware(app, opts))
    fresh_client.set_cookie("beaker.session.id", new_cookie)
    assert fresh_client.get("/").json == {"user": "alice", "cart": [1, 2, 3], "n": 3, "new": False}


def test_file_session_written_by_beaker_114_loads(tmp_path: Path) -> None:
    beaker_opts = {
        "session.type": "file",
        "session.data_dir": str(tmp_path / "sessions"),
        "session.lock_dir": str(tmp_path / "locks"),
        "session.secret": "s3cret",
    }
    cookie = _beaker_cookie(beaker_opts)
    assert list((tmp_path / "sessions" / "container_file").rglob("*.cache"))
    _check_migration(beaker_opts, cookie, signed=True)


def test_file_session_without_secret_and_json_serializer(tmp_path: Path) -> None:
    beaker_opts = {
        "session.type": "file",
        "session.data_dir": str(tmp_path / "s"),
        "session.data_serializer": "json",
    }
    cookie = _beaker_cookie(beaker_opts)
    assert re.fullmatch(r"[0-9a-f]{32}", cookie)
    _check_migration(beaker_opts, cookie, signed=False)


def test_redis_session_written_by_beaker_114_loads(redis_url: str) -> None:
    beaker_opts = {
        "session.type": "ext:redis",
        "session.url": redis_url,
        "session.secret": "s3cret",
        "session.timeout": "600",
    }
    cookie = _beaker_cookie(beaker_opts)
    _check_migration(beaker_opts, cookie, signed=True)


def test_beaker_cookie_under_another_secret_is_refused(tmp_path: Path) -> None:
    beaker_opts = {
        "session.type": "file",
        "session.data_dir": str(tmp_path),
        "session.secret": "s3cret",
    }
    cookie = _beaker_cookie(beaker_opts)
    client = webtest.TestApp(SessionMiddleware(app, {**beaker_opts, "session.secret": "other"}))
    client.set_cookie("beaker.session.id", cookie)
    assert client.get("/").json["new"] is True
    forged = "0" * 40 + cookie[40:]
    client = webtest.TestApp(SessionMiddleware(app, beaker_opts))
    client.set_cookie("beaker.session.id", forged)
    assert client.get("/").json["new"] is True


def test_beaker_cookie_only_session_starts_afresh() -> None:
    beaker_opts = {"session.type": "cookie", "session.validate_key": "v"}
    cookie = _beaker_cookie(beaker_opts)
    client = webtest.TestApp(SessionMiddleware(app, beaker_opts))
    client.set_cookie("beaker.session.id", cookie)
    assert client.get("/").json == {"user": None, "cart": None, "n": None, "new": True}


def test_unknown_legacy_id_is_a_new_session(tmp_path: Path) -> None:
    opts = {"session.type": "file", "session.data_dir": str(tmp_path)}
    client = webtest.TestApp(SessionMiddleware(app, opts))
    client.set_cookie("beaker.session.id", uuid.uuid4().hex)
    assert client.get("/").json["new"] is True


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x04K\x01."])
def test_damaged_legacy_file_is_a_new_session_and_a_log_line(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    opts = {"session.type": "file", "session.data_dir": str(tmp_path)}
    cookie = _beaker_cookie(opts)
    (path,) = (tmp_path / "container_file").rglob("*.cache")
    path.write_bytes(damage)
    client = webtest.TestApp(SessionMiddleware(app, opts))
    client.set_cookie("beaker.session.id", cookie)
    with caplog.at_level("WARNING", logger="beaker.sessions"):
        assert client.get("/").json["new"] is True
    assert "corrupt session record" in caplog.text


def test_removing_a_migrated_session_removes_beakers_copy(tmp_path: Path) -> None:
    opts = {"session.type": "file", "session.data_dir": str(tmp_path), "session.secret": "s"}
    cookie = _beaker_cookie(opts)

    def logout(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["beaker.session"].delete()
        start_response("200 OK", [])
        return [b""]

    client = webtest.TestApp(SessionMiddleware(logout, opts))
    client.set_cookie("beaker.session.id", cookie)
    client.get("/")
    assert not list((tmp_path / "container_file").rglob("*.cache"))
    replay = webtest.TestApp(SessionMiddleware(app, opts))
    replay.set_cookie("beaker.session.id", cookie)
    assert replay.get("/").json["new"] is True
