"""``Sessions.refresh_cookie``: a stored session's id cookie sent with every write (the
default, so that a lifetime counts from the last write) or, off (Beaker's rule, which the
compat layer uses), only when the browser's copy must change."""

from __future__ import annotations

import attrs
import pytest

from beaker.sessions import CookieSettings, Sessions, server_side
from beaker.stores.memory import MemoryStore


def _request(sessions: Sessions, cookie: str | None, *ops: str) -> str | None:
    """One request sending ``cookie`` (a ``Set-Cookie`` value, or ``None``) doing ``ops``;
    the ``Set-Cookie`` value of its response."""
    header = None if cookie is None else cookie.split(";")[0]
    session = sessions.open(header)
    for op in ops:
        if op == "set":
            session["n"] = session.get("n", 0) + 1
        elif op == "get":
            session.get("n")
        elif op == "domain":
            session.domain = "example.com"
        else:
            getattr(session, op)()
    return session.finish()


@pytest.fixture
def beaker_rule() -> Sessions:
    return server_side(MemoryStore(), secret="key", refresh_cookie=False, timeout=600)


def test_default_sends_the_cookie_with_every_write() -> None:
    sessions = server_side(MemoryStore(), cookie=CookieSettings(expires=3600), timeout=600)
    first = _request(sessions, None, "set", "save")
    assert first is not None and "Max-Age=3600" in first
    assert _request(sessions, first, "set", "save") is not None
    assert _request(sessions, first, "get") is not None  # the access-time write


def test_off_an_unchanged_id_cookie_is_not_sent_again(beaker_rule: Sessions) -> None:
    first = _request(beaker_rule, None, "set", "save")
    assert first is not None
    assert _request(beaker_rule, first, "set", "save") is None
    assert _request(beaker_rule, first, "get") is None
    assert _request(beaker_rule, first, "set", "persist") is None


def test_off_a_new_id_or_removal_is_sent(beaker_rule: Sessions) -> None:
    first = _request(beaker_rule, None, "set", "save")
    moved = _request(beaker_rule, first, "regenerate_id")
    assert moved is not None and moved.split(";")[0] != first.split(";")[0]  # type: ignore[union-attr]
    gone = _request(beaker_rule, moved, "delete")
    assert gone is not None and "Max-Age=0" in gone


def test_off_an_assigned_cookie_attribute_is_sent_without_a_save(beaker_rule: Sessions) -> None:
    first = _request(beaker_rule, None, "set", "save")
    scoped = _request(beaker_rule, first, "domain")
    assert scoped is not None and "Domain=example.com" in scoped
    assert scoped.split(";")[0] == first.split(";")[0]  # type: ignore[union-attr]


def test_off_a_cookie_signed_with_an_older_key_is_re_signed_and_sent() -> None:
    store = MemoryStore()
    old = server_side(store, secret="old key", refresh_cookie=False)
    first = _request(old, None, "set", "save")
    rotated = attrs.evolve(
        old,
        backend=attrs.evolve(old.backend, secret=["new key", "old key"]),  # type: ignore[misc]
    )
    resigned = _request(rotated, first, "set", "save")
    assert resigned is not None and resigned.split(";")[0] != first.split(";")[0]  # type: ignore[union-attr]
    assert _request(rotated, resigned, "set", "save") is None
