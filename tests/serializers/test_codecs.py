"""HMACSigner and AESGCMEncrypter: the codec contracts of beaker.testing (round trips,
tampering, truncation, extension, key rotation order), then sizes, key forms, purpose
separation, and composition with a serializer through ``Sealed``."""

from __future__ import annotations

import hmac
import pickle
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beaker.errors import ComponentTypeError, ConfigError, DeserializationError, InvalidSignature
from beaker.serializers import PickleSerializer, Sealed
from beaker.serializers.aead import OVERHEAD, AESGCMEncrypter
from beaker.serializers.signing import TAG_SIZE, HMACSigner, derive_key
from beaker.testing import CodecSuite, EncrypterSuite

SETTINGS = settings(max_examples=50, deadline=None)

CODECS = {
    "hmac": lambda keys: HMACSigner(keys),
    "aesgcm": lambda keys: AESGCMEncrypter(keys),
}


@pytest.fixture(params=sorted(CODECS))
def make(request: pytest.FixtureRequest):
    return CODECS[request.param]


class TestHMACSigner(CodecSuite):
    """The signer contract (beaker.testing): round trip, tampering, rotation order."""

    def make_codec(self, keys: Sequence[bytes]) -> HMACSigner:
        return HMACSigner(keys)


class TestAESGCMEncrypter(EncrypterSuite):
    """The encrypter contract (beaker.testing): the signer's, and secrecy."""

    def make_codec(self, keys: Sequence[bytes]) -> AESGCMEncrypter:
        return AESGCMEncrypter(keys)


def test_sizes() -> None:
    assert len(HMACSigner("k").encode(b"abc")) == 3 + TAG_SIZE
    assert len(AESGCMEncrypter("k").encode(b"abc")) == 3 + OVERHEAD


@given(secret=st.binary(min_size=1, max_size=100), data=st.binary(max_size=300))
def test_tag_is_the_standard_hmac_sha256(secret: bytes, data: bytes) -> None:
    # The signer keeps keyed HMAC objects: its tags must be hmac.digest's, byte for byte.
    key = derive_key(secret, b"beaker hmac-sha256 p")
    signed = HMACSigner(secret, purpose="p").encode(data)
    assert signed == data + hmac.digest(key, data, "sha256")


def test_a_pickled_signer_verifies_the_original_tags() -> None:
    signer = HMACSigner(["new", "old"], purpose="p")
    copy = pickle.loads(pickle.dumps(signer))
    assert copy == signer
    assert copy.decode(signer.encode(b"data")) == b"data"
    old = HMACSigner("old", purpose="p")
    assert copy.decode(old.encode(b"y")) == b"y"  # every key still verifies
    with pytest.raises(InvalidSignature):  # and the newest one signs
        old.decode(copy.encode(b"x"))


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


def test_messages_of_one_key_share_version_and_key_id_not_nonce() -> None:
    codec = AESGCMEncrypter("k")
    one, two = codec.encode(b"secret data"), codec.encode(b"secret data")
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


def test_sealed_pickle_never_sees_unverified_bytes(make) -> None:
    sealed = Sealed(PickleSerializer(), make(["k"]))
    forged = make(["attacker"]).encode(pickle.dumps({"a": 1}))
    with pytest.raises(InvalidSignature):
        sealed.loads(forged)
    # InvalidSignature is a DeserializationError, so callers treating corrupt data handle it
    with pytest.raises(DeserializationError):
        sealed.loads(b"\x80\x05garbage")
