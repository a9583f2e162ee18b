"""The backends' memos of cookie values: ServerSideBackend's last signed id cookie (the cookie
a request arrived with is the cookie its response sends, one HMAC tag instead of two; key
rotation still re-signs with the newest key) and CookieBackend's last verified and last issued
cookie; tampering is refused while the genuine value is memoised."""

from __future__ import annotations

from typing import Any

import pytest

from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.sessions.cookies import decode_value, encode_value
from beaker.sessions.store import CookieBackend, ServerSideBackend, SessionRecord
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


@pytest.mark.parametrize("codec", [HMACSigner("one key"), AESGCMEncrypter("one key")])
def test_cookie_sessions_recall_what_they_verified_and_issued(codec: Any) -> None:
    backend = CookieBackend(codec)
    record = SessionRecord(backend.ids.new(), 1.0, 2.0, backend.serializer.dumps({"n": 1}))
    issued = backend.write(record, None, 2.0)
    fresh = CookieBackend(codec)  # nothing memoised: verifies
    for reader in (backend, fresh, fresh):  # the issued value, a verified one, the memo's
        loaded = reader.read(issued)
        assert loaded is not None
        assert (loaded.record, loaded.data) == (record, {"n": 1})
    assert fresh.read(_tampered(issued)) is None
    assert backend.read(_tampered(issued)) is None
    assert backend.read(issued[:-1] + ("A" if issued[-1] != "A" else "B")) is None
    assert backend.read("é" * len(issued)) is None
    second = backend.write(record._replace(accessed=3.0), None, 3.0)
    assert second != issued and backend.read(second) is not None
    assert backend.read(issued) is not None  # an earlier genuine cookie is verified again
