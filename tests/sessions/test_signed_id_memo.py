"""ServerSideBackend's memo of the last signed id cookie: the cookie a request arrived with is
the cookie its response sends (one HMAC tag, not two), tampering is still refused, and key
rotation still re-signs with the newest key."""

from __future__ import annotations

from beaker.serializers.signing import HMACSigner
from beaker.sessions.cookies import decode_value, encode_value
from beaker.sessions.store import ServerSideBackend
from beaker.stores.memory import MemoryStore


def _tampered(value: str) -> str:
    """``value`` with its last tag byte flipped (same length, still canonical base64)."""
    raw = bytearray(decode_value(value))
    raw[-1] ^= 1
    return encode_value(bytes(raw))


def test_an_unchanged_id_is_sent_back_byte_for_byte() -> None:
    signer = HMACSigner("one key", purpose="beaker.session.id")
    backend = ServerSideBackend(MemoryStore(), secret=signer)
    session_id = backend.ids.new()
    issued = encode_value(signer.encode(session_id.encode("ascii")))
    fresh = ServerSideBackend(MemoryStore(), secret=signer)  # nothing memoised yet
    assert fresh.session_id(issued) == session_id
    assert fresh.cookie_value(session_id) == issued
    assert fresh.session_id(issued) == session_id  # the memoised value, again


def test_a_tampered_cookie_is_refused_while_the_genuine_one_is_memoised() -> None:
    backend = ServerSideBackend(MemoryStore(), secret="one key")
    session_id = backend.ids.new()
    genuine = backend.cookie_value(session_id)
    assert backend.session_id(genuine) == session_id
    assert backend.session_id(_tampered(genuine)) is None
    assert backend.session_id(genuine + "A") is None
    assert backend.session_id("é" * len(genuine)) is None  # non-ASCII: refused, no TypeError
    other = backend.ids.new()
    assert backend.cookie_value(other) != genuine  # another id is signed, not the memo's value
    assert backend.session_id(backend.cookie_value(other)) == other


def test_rotation_re_signs_a_cookie_of_the_old_key_with_the_new_one() -> None:
    old = ServerSideBackend(MemoryStore(), secret="old key")
    rotated = ServerSideBackend(MemoryStore(), secret=["new key", "old key"])
    session_id = old.ids.new()
    old_cookie = old.cookie_value(session_id)
    assert rotated.session_id(old_cookie) == session_id
    new_cookie = rotated.cookie_value(session_id)
    assert new_cookie != old_cookie
    assert ServerSideBackend(MemoryStore(), secret="new key").session_id(new_cookie) == session_id
