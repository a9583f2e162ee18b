"""HMACSigner and AESGCMEncrypter: round trips, tampering, truncation, extension, key rotation
(order matters: the first key signs, all verify), purpose separation, and composition with a
serializer through ``Sealed``."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beaker.errors import ComponentTypeError, ConfigError, DeserializationError, InvalidSignature
from beaker.serializers import BytesCodec, JSONSerializer, PickleSerializer, Sealed
from beaker.serializers.aead import OVERHEAD, AESGCMEncrypter
from beaker.serializers.signing import TAG_SIZE, HMACSigner

SETTINGS = settings(max_examples=50, deadline=None)

CODECS = {
    "hmac": lambda keys: HMACSigner(keys),
    "aesgcm": lambda keys: AESGCMEncrypter(keys),
}


@pytest.fixture(params=sorted(CODECS))
def make(request: pytest.FixtureRequest):
    return CODECS[request.param]


def test_codecs_implement_the_protocol(make) -> None:
    assert isinstance(make(["k"]), BytesCodec)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_round_trip(data: bytes) -> None:
    for make in CODECS.values():
        codec = make(["newest", "older"])
        assert codec.decode(codec.encode(data)) == data


@SETTINGS
@given(data=st.binary(max_size=100), position=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_flipped_byte_is_rejected(data: bytes, position: int, flip: int) -> None:
    for make in CODECS.values():
        codec = make(["k1", "k2"])
        sealed = bytearray(codec.encode(data))
        sealed[position % len(sealed)] ^= flip
        with pytest.raises(InvalidSignature):
            codec.decode(bytes(sealed))


@SETTINGS
@given(data=st.binary(max_size=100), cut=st.integers(min_value=1), extra=st.binary(min_size=1))
def test_truncation_and_extension_are_rejected(data: bytes, cut: int, extra: bytes) -> None:
    for make in CODECS.values():
        codec = make(["k1"])
        sealed = codec.encode(data)
        with pytest.raises(InvalidSignature):
            codec.decode(sealed[: len(sealed) - 1 - (cut % len(sealed))])
        with pytest.raises(InvalidSignature):
            codec.decode(sealed + extra)
        with pytest.raises(InvalidSignature):
            codec.decode(extra + sealed)


def test_sizes() -> None:
    assert len(HMACSigner("k").encode(b"abc")) == 3 + TAG_SIZE
    assert len(AESGCMEncrypter("k").encode(b"abc")) == 3 + OVERHEAD


def test_rotation_order(make) -> None:
    old, new = make(["old"]), make(["new"])
    rotated = make(["new", "old"])
    from_old, from_new = old.encode(b"payload"), new.encode(b"payload")
    # every key verifies ...
    assert rotated.decode(from_old) == b"payload"
    assert rotated.decode(from_new) == b"payload"
    # ... but only the first signs: what rotated writes opens under "new" and not "old"
    resealed = rotated.encode(b"payload")
    assert new.decode(resealed) == b"payload"
    with pytest.raises(InvalidSignature):
        old.decode(resealed)
    # reversing the list reverses which key signs
    assert old.decode(make(["old", "new"]).encode(b"x")) == b"x"
    # once the old key is dropped, its messages no longer open
    with pytest.raises(InvalidSignature):
        new.decode(from_old)


def test_str_and_bytes_keys_are_the_same_secret(make) -> None:
    assert make([b"s\xc3\xa9cret"]).decode(make(["sécret"]).encode(b"x")) == b"x"
    assert make("single").decode(make(["single"]).encode(b"x")) == b"x"


def test_purposes_do_not_cross() -> None:
    assert HMACSigner("k").encode(b"x") != HMACSigner("k", purpose="other").encode(b"x")
    with pytest.raises(InvalidSignature):
        HMACSigner("k", purpose="a").decode(HMACSigner("k", purpose="b").encode(b"x"))
    with pytest.raises(InvalidSignature):
        AESGCMEncrypter("k", purpose="a").decode(AESGCMEncrypter("k", purpose="b").encode(b"x"))


def test_signer_and_encrypter_do_not_accept_each_other() -> None:
    with pytest.raises(InvalidSignature):
        AESGCMEncrypter("k").decode(HMACSigner("k").encode(b"x" * 40))
    with pytest.raises(InvalidSignature):
        HMACSigner("k").decode(AESGCMEncrypter("k").encode(b"x"))


def test_encryption_hides_data_and_uses_fresh_nonces() -> None:
    codec = AESGCMEncrypter("k")
    one, two = codec.encode(b"secret data"), codec.encode(b"secret data")
    assert one != two
    assert b"secret data" not in one
    assert one[:5] == two[:5]  # same version and key id
    assert one[5:17] != two[5:17]  # different nonces


def test_injected_nonce_source_is_used() -> None:
    codec = AESGCMEncrypter("k", random=lambda n: b"\x07" * n)
    assert codec.encode(b"a")[5:17] == b"\x07" * 12
    assert codec.decode(codec.encode(b"a")) == b"a"


def test_keys_never_in_repr() -> None:
    assert "hunter2" not in repr(HMACSigner("hunter2"))
    assert "hunter2" not in repr(AESGCMEncrypter("hunter2"))


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        ([], ConfigError),
        ([""], ConfigError),
        (["a", b""], ConfigError),
        ([1], ComponentTypeError),
        (None, ComponentTypeError),
        (42, ComponentTypeError),
    ],
)
def test_bad_keys_are_refused(make, keys: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        make(keys)


def test_bad_purpose_is_refused() -> None:
    with pytest.raises(ComponentTypeError):
        HMACSigner("k", purpose=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        AESGCMEncrypter("k", purpose="")


def test_codecs_are_frozen_and_comparable() -> None:
    import attrs

    signer = HMACSigner(["a", "b"])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        signer.keys = (b"c",)  # type: ignore[misc]
    assert signer == HMACSigner([b"a", b"b"])
    assert attrs.evolve(signer, keys=["c"]).decode(HMACSigner("c").encode(b"x")) == b"x"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@SETTINGS
@given(value=JSON_VALUES)
def test_sealed_json_round_trip(value: object) -> None:
    for make in CODECS.values():
        sealed = Sealed(JSONSerializer(), make(["k"]))
        assert sealed.loads(sealed.dumps(value)) == value


def test_sealed_pickle_never_sees_unverified_bytes(make) -> None:
    sealed = Sealed(PickleSerializer(), make(["k"]))
    forged = make(["attacker"]).encode(pickle.dumps({"a": 1}))
    with pytest.raises(InvalidSignature):
        sealed.loads(forged)
    # InvalidSignature is a DeserializationError, so callers treating corrupt data handle it
    with pytest.raises(DeserializationError):
        sealed.loads(b"\x80\x05garbage")
