"""What a client cannot do: alter, truncate or extend a cookie (Hypothesis), pass off a cookie
after its key was removed, or choose a session id; and key rotation (retired keys still load,
saves re-sign with the newest)."""

from __future__ import annotations

import logging
import os
import pickle
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from webtest import TestApp

from beaker.serializers import PickleSerializer
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions import SessionIds, SessionMiddleware, cookie_only, server_side
from beaker.sessions.cookies import cookie_values, decode_value
from beaker.sessions.store import CookieBackend
from beaker.stores.file import FileStore
from beaker.stores.memory import MemoryStore
from beaker.testing import FakeClock

from .conftest import RecordingStore, counter_app

NAME = "beaker.session.id"
SETTINGS = settings(max_examples=60, deadline=None)


def build(kind: str, clock: FakeClock, keys: list[str] | None = None, **options: Any) -> Any:
    keys = keys or ["k1"]
    store = options.pop("store", None) or MemoryStore()
    if kind == "cookie-signed":
        return cookie_only(HMACSigner(keys), clock=clock, **options)
    if kind == "cookie-encrypted":
        return cookie_only(AESGCMEncrypter(keys), clock=clock, **options)
    if kind == "cookie-pickle":
        return cookie_only(HMACSigner(keys), serializer=PickleSerializer(), clock=clock, **options)
    return server_side(store, secret=keys, clock=clock, **options)


KINDS = ["cookie-signed", "cookie-encrypted", "cookie-pickle", "server-signed"]


def issue(app: TestApp) -> str:
    """Make a session holding count=1 and a secret; return its cookie value."""
    app.cookiejar.clear()
    app.get("/")
    return app.cookies[NAME]


def request_with(app: TestApp, value: str | bytes) -> dict[str, Any]:
    """GET /peek with exactly this cookie value (bytes are sent as latin-1, as WSGI does)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    app.cookiejar.clear()
    return app.get("/peek", headers={"Cookie": f"{NAME}={value}"}).json


@pytest.fixture(scope="module")
def apps() -> dict[str, tuple[TestApp, str]]:
    """One app per kind (built once: Hypothesis examples reuse them) and a valid cookie."""
    out = {}
    for kind in KINDS:
        app = TestApp(SessionMiddleware(counter_app, build(kind, FakeClock(1e9))), lint=False)
        out[kind] = (app, issue(app))
    return out


def mutations() -> st.SearchStrategy[Any]:
    """A description of a byte-level change: replace, delete, insert, truncate or extend."""
    return st.one_of(
        st.tuples(st.just("replace"), st.integers(min_value=0), st.integers(0, 255)),
        st.tuples(st.just("delete"), st.integers(min_value=0), st.just(0)),
        st.tuples(st.just("insert"), st.integers(min_value=0), st.integers(0, 255)),
        st.tuples(st.just("truncate"), st.integers(min_value=0), st.just(0)),
        st.tuples(st.just("extend"), st.binary(min_size=1, max_size=20), st.just(0)),
    )


def mutate(value: bytes, change: Any) -> bytes:
    kind, where, byte = change
    if kind == "extend":
        return value + where
    position = where % len(value)
    if kind == "replace":
        return value[:position] + bytes([byte]) + value[position + 1 :]
    if kind == "delete":
        return value[:position] + value[position + 1 :]
    if kind == "insert":
        return value[:position] + bytes([byte]) + value[position:]
    return value[:position]  # truncate


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(change=mutations())
def test_any_altered_cookie_gives_a_fresh_session(
    apps: dict[str, tuple[TestApp, str]], kind: str, change: Any
) -> None:
    app, valid = apps[kind]
    original = request_with(app, valid)
    assert original["count"] == 1 and not original["is_new"]
    altered = mutate(valid.encode("ascii"), change)
    header = f"{NAME}={altered.decode('latin-1')}"
    # a change the Cookie header grammar undoes (e.g. extending with "; x") is no change
    assume(cookie_values(header, NAME) != [valid])
    result = request_with(app, altered)  # never an exception or a 500 (WebTest checks)
    assert result["is_new"] and result["count"] == 0
    assert result["id"] != original["id"]


@pytest.mark.parametrize("kind", ["cookie-signed", "cookie-encrypted"])
@SETTINGS
@given(change=mutations())
def test_any_altered_sealed_bytes_give_a_fresh_session(
    apps: dict[str, tuple[TestApp, str]], kind: str, change: Any
) -> None:
    """The same below the text encoding: change the signed/encrypted bytes themselves."""
    from beaker.sessions.cookies import encode_value

    app, valid = apps[kind]
    raw = decode_value(valid)
    altered = mutate(raw, change)
    assume(altered != raw)
    result = request_with(app, encode_value(altered))
    assert result["is_new"] and result["count"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_retired_key_still_loads_and_save_resigns_with_newest(kind: str, clock: FakeClock) -> None:
    store = MemoryStore()
    old_app = TestApp(SessionMiddleware(counter_app, build(kind, clock, ["old"], store=store)))
    old_app.get("/")
    old_cookie = old_app.cookies[NAME]

    rotated = TestApp(
        SessionMiddleware(counter_app, build(kind, clock, ["new", "old"], store=store))
    )
    rotated.set_cookie(NAME, old_cookie)
    assert rotated.get("/peek").json["count"] == 1  # loads under the retired key
    assert rotated.get("/").json["count"] == 2  # save: re-signed ...
    resigned = rotated.cookies[NAME]
    assert resigned != old_cookie

    new_only = TestApp(SessionMiddleware(counter_app, build(kind, clock, ["new"], store=store)))
    new_only.set_cookie(NAME, resigned)
    assert new_only.get("/peek").json["count"] == 2  # ... with the newest key
    old_only = TestApp(SessionMiddleware(counter_app, build(kind, clock, ["old"], store=store)))
    old_only.set_cookie(NAME, resigned)
    assert old_only.get("/peek").json["is_new"]  # and not the old one

    # key order decides: with ["old", "new"] the old key signs
    reversed_app = TestApp(
        SessionMiddleware(counter_app, build(kind, clock, ["old", "new"], store=store))
    )
    reversed_app.set_cookie(NAME, resigned)
    reversed_app.get("/")
    old_only.set_cookie(NAME, reversed_app.cookies[NAME])
    assert old_only.get("/peek").json["count"] == 3


@pytest.mark.parametrize("kind", KINDS)
def test_changing_the_key_logs_users_out_cleanly(kind: str, clock: FakeClock, caplog: Any) -> None:
    store = MemoryStore()
    before = TestApp(SessionMiddleware(counter_app, build(kind, clock, ["before"], store=store)))
    before.get("/")
    after = TestApp(SessionMiddleware(counter_app, build(kind, clock, ["after"], store=store)))
    after.cookiejar = before.cookiejar  # the same browser, after a redeploy with a new key
    with caplog.at_level(logging.INFO, logger="beaker.sessions"):
        response = after.get("/peek")  # status 200: WebTest raises on a 500
    assert response.json["is_new"] and response.json["count"] == 0
    assert any(r.name == "beaker.sessions" and "refused" in r.getMessage() for r in caplog.records)
    # the stale cookie is expired so the browser stops sending it
    assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert NAME not in after.cookies
    fresh = after.get("/").json  # and the user simply starts a new session
    assert fresh["is_new"] and fresh["count"] == 1
    assert after.get("/peek").json == {"count": 1, "id": fresh["id"], "is_new": False}


HOSTILE_IDS = [
    "../../etc/passwd",
    "x" * 5000,
    "0" * 5000,
    "A" * 32,  # upper-case hex: not an id we issue
    "0" * 31,
    "0" * 33,
    "/tmp/" + "0" * 27,
    "0" * 31 + "\x00",
    "",
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=lambda v: repr(v[:20]))
def test_client_chosen_ids_are_refused_and_replaced(hostile: str, clock: FakeClock) -> None:
    store = RecordingStore()
    app = TestApp(SessionMiddleware(counter_app, server_side(store, clock=clock)), lint=False)
    result = app.get("/", headers={"Cookie": f"{NAME}={hostile}"}).json
    assert result["is_new"] and result["id"] != hostile and len(result["id"]) == 32
    assert {key for _, key in store.calls} == {result["id"]}  # the hostile id never reached it


def test_unknown_well_formed_id_gets_a_new_id(clock: FakeClock) -> None:
    store = RecordingStore()
    app = TestApp(SessionMiddleware(counter_app, server_side(store, clock=clock)))
    chosen = "ab" * 16
    result = app.get("/", headers={"Cookie": f"{NAME}={chosen}"}).json
    assert result["is_new"] and result["id"] != chosen
    assert ("set", chosen) not in store.calls


def test_file_store_never_gets_a_path_from_the_client(tmp_path: Any, clock: FakeClock) -> None:
    data_dir = tmp_path / "data"
    app = TestApp(
        SessionMiddleware(counter_app, server_side(FileStore(str(data_dir)), clock=clock)),
        lint=False,
    )
    for hostile in ["../../outside", "../" * 40 + "etc/passwd", "x" * 5000]:
        assert app.get("/", headers={"Cookie": f"{NAME}={hostile}"}).json["is_new"]
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_signed_id_cookie_cannot_be_forged(clock: FakeClock) -> None:
    sessions = server_side(MemoryStore(), secret="server key", clock=clock)
    app = TestApp(SessionMiddleware(counter_app, sessions))
    session_id = app.get("/").json["id"]
    # the right id, but bare or signed by someone else's key
    from beaker.sessions.cookies import encode_value

    forged = encode_value(
        HMACSigner("guess", purpose="beaker.session.id").encode(session_id.encode())
    )
    for value in (session_id, forged):
        app.cookiejar.clear()
        assert app.get("/peek", headers={"Cookie": f"{NAME}={value}"}).json["is_new"]


def test_pickle_cookie_sessions_never_unpickle_unverified_bytes(clock: FakeClock) -> None:
    class Explodes:
        def __reduce__(self) -> Any:
            return (pytest.fail, ("unpickled a client's bytes",))

    evil = pickle.dumps({"x": Explodes()})
    backend = CookieBackend(HMACSigner("k"), serializer=PickleSerializer())
    from beaker.sessions.cookies import encode_value

    for value in (encode_value(evil), encode_value(HMACSigner("other").encode(evil))):
        assert backend.read(value) is None


def test_a_cookie_for_one_purpose_is_not_accepted_for_another(clock: FakeClock) -> None:
    """The same secret as `secret` (id cookie) and as cookie-session key: an id cookie is not
    a cookie session and vice versa."""
    server = TestApp(
        SessionMiddleware(counter_app, server_side(MemoryStore(), secret="same", clock=clock))
    )
    cookie = TestApp(SessionMiddleware(counter_app, cookie_only("same", clock=clock)))
    server.get("/")
    cookie.get("/")
    id_cookie, session_cookie = server.cookies[NAME], cookie.cookies[NAME]
    assert request_with(cookie, id_cookie)["is_new"]
    assert request_with(server, session_cookie)["is_new"]


def test_ids_are_random_hex_of_at_least_128_bits() -> None:
    ids = SessionIds()
    seen = {ids.new() for _ in range(1000)}
    assert len(seen) == 1000
    assert all(len(value) == 32 and ids.is_valid(value) for value in seen)
    assert len(SessionIds(nbytes=32).new()) == 64
    for bad in (8, 15, 65, "16", True):
        with pytest.raises((TypeError, ValueError)):
            SessionIds(nbytes=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SessionIds(token_hex=lambda n: "not hex").new()
