"""The serializer and byte-codec contracts, as checks any
:class:`~beaker.serializers.base.Serializer` or :class:`~beaker.serializers.base.BytesCodec`
can be run against, and pytest suites that bundle them.

Serializers: every value of a Hypothesis strategy of the values the serializer accepts comes
back equal and of the same types (:func:`check_serializer_round_trip`); the values it must
refuse raise :class:`~beaker.errors.SerializationError` (:func:`check_serializer_refuses`);
damaged bytes give a value or :class:`~beaker.errors.DeserializationError`, never another
exception (:func:`check_serializer_survives_damage`).

Signers and encrypters: round trip over any bytes (:func:`check_codec_round_trip`); every
flipped bit, every truncation and any extension of an encoded message is rejected with
:class:`~beaker.errors.InvalidSignature` (:func:`check_codec_detects_tampering`); key
rotation order: the newest key signs, old keys still verify, a removed key no longer verifies
(:func:`check_key_rotation`); an encrypter also hides its input and never repeats a message
(:func:`check_encryption_hides_data`).

Suites: subclass :class:`SerializerSuite`, :class:`CodecSuite` or :class:`EncrypterSuite`,
define its ``make_…`` method, and pytest collects the inherited tests.

Must not import from ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from beaker.errors import DeserializationError, InvalidSignature, SerializationError
from beaker.serializers.base import BytesCodec, Serializer
from beaker.testing._refusals import refused

#: What JSON gives back unchanged: ``None``, ``bool``, ``int``, finite ``float``, ``str`` (no
#: lone surrogates), and ``list`` / ``dict`` with ``str`` keys of those.
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

_HASHABLE = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.binary(max_size=10)
    | st.datetimes()
)
#: What pickle gives back unchanged: the JSON values plus ``bytes``, ``tuple``, ``set``,
#: ``frozenset``, ``complex``, ``Decimal``, ``datetime``, ``date`` and ``timedelta``, and
#: dicts with keys other than ``str``.
PICKLE_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_VALUES
    | _HASHABLE
    | st.complex_numbers(allow_nan=False)
    | st.decimals(allow_nan=False)
    | st.dates()
    | st.timedeltas()
    | st.frozensets(_HASHABLE, max_size=4)
    | st.sets(_HASHABLE, max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_HASHABLE, inner, max_size=4)
    ),
    max_leaves=12,
)

_SETTINGS = settings(max_examples=60, deadline=None)
#: Data small enough that every bit of its encoding can be flipped in turn.
_SMALL = st.binary(max_size=24)


def same_value(got: Any, expected: Any) -> bool:
    """Whether ``got`` equals ``expected`` with the same types all the way down (``True`` is
    not ``1``, a tuple is not a list), as a serializer must give values back."""
    if type(got) is not type(expected):
        return False
    if isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(map(same_value, got, expected))
    if isinstance(expected, dict):
        return got.keys() == expected.keys() and all(
            same_value(got[key], value) for key, value in expected.items()
        )
    return bool(got == expected)


def check_serializer_round_trip(
    serializer: Serializer, values: st.SearchStrategy[Any] = JSON_VALUES
) -> None:
    """Assert that ``serializer.loads(serializer.dumps(value))`` is ``value`` (equal, same
    types, see :func:`same_value`) for every value ``values`` draws, and that ``dumps``
    returns ``bytes``."""

    @_SETTINGS
    @given(value=values)
    def round_trip(value: Any) -> None:
        data = serializer.dumps(value)
        assert isinstance(data, bytes), f"dumps returned {type(data).__name__}, not bytes"
        back = serializer.loads(data)
        assert same_value(back, value), f"{value!r} came back as {back!r}"

    round_trip()


def check_serializer_refuses(serializer: Serializer, rejected: Sequence[Any]) -> None:
    """Assert that ``serializer.dumps`` raises :class:`~beaker.errors.SerializationError`
    for each value of ``rejected`` (values it could not give back unchanged)."""
    for value in rejected:
        with refused(SerializationError, f"dumps({value!r})"):
            serializer.dumps(value)


def _damaged(data: bytes, *, bit_flips: bool = True) -> list[bytes]:
    """Every truncation of ``data``, every single-bit flip of it (unless ``bit_flips`` is
    false), and two extensions."""
    flips = [
        data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]
        for index in range(len(data) if bit_flips else 0)
        for bit in range(8)
    ]
    return [data[:cut] for cut in range(len(data))] + flips + [data + b"\x00", b"\xff" + data]


def check_serializer_survives_damage(
    serializer: Serializer, values: st.SearchStrategy[Any] = JSON_VALUES, *, bit_flips: bool = True
) -> None:
    """Assert that ``serializer.loads`` of damaged bytes (every truncation and bit flip of a
    small value's encoding, and extensions) returns a value or raises
    :class:`~beaker.errors.DeserializationError`: never another exception, never a hang.

    ``bit_flips=False`` leaves the flips out, for a serializer meant only for bytes that passed
    a signer or encrypter: a flipped bit in a pickle can ask for gigabytes of memory (a memo
    index of 2**30), so pickle is checked on truncations and extensions only."""

    @_SETTINGS
    @given(value=values)
    def damage(value: Any) -> None:
        for data in _damaged(serializer.dumps(value), bit_flips=bit_flips):
            try:
                serializer.loads(data)
            except DeserializationError:
                pass
            except Exception as exc:
                raise AssertionError(f"loads({data!r}) raised {exc!r}") from exc

    damage()


def check_codec_round_trip(codec: BytesCodec) -> None:
    """Assert that ``codec.decode(codec.encode(data)) == data`` for any ``bytes``, the empty
    string included, and that ``encode`` returns ``bytes``."""

    @_SETTINGS
    @given(data=st.binary(max_size=1000))
    def round_trip(data: bytes) -> None:
        encoded = codec.encode(data)
        assert isinstance(encoded, bytes), f"encode returned {type(encoded).__name__}"
        assert codec.decode(encoded) == data, f"{data!r} did not come back"

    round_trip()


def check_codec_detects_tampering(
    codec: BytesCodec, error: type[Exception] = InvalidSignature
) -> None:
    """Assert that ``codec.decode`` rejects with ``error`` every single-bit flip, every
    truncation (down to empty) and extensions at either end of an encoded message."""

    @_SETTINGS
    @given(data=_SMALL, extra=st.binary(min_size=1, max_size=8))
    def tamper(data: bytes, extra: bytes) -> None:
        encoded = codec.encode(data)
        for damaged in [*_damaged(encoded), encoded + extra, extra + encoded]:
            with refused(error, f"decode of {damaged!r}, a damaged encoding of {data!r}"):
                codec.decode(damaged)

    tamper()


def check_key_rotation(
    make_codec: Callable[[Sequence[bytes]], BytesCodec], error: type[Exception] = InvalidSignature
) -> None:
    """Assert the key-rotation order of codecs made by ``make_codec(keys)`` (keys newest
    first): the newest key signs, every listed key verifies, a key removed from the list no
    longer verifies (``decode`` raises ``error``)."""
    new, old = secrets.token_bytes(32), secrets.token_bytes(32)
    rotated, only_new, only_old = make_codec([new, old]), make_codec([new]), make_codec([old])
    data = b"rotated payload"
    from_old = only_old.encode(data)
    assert rotated.decode(from_old) == data, "an old key no longer verifies"
    from_rotated = rotated.encode(data)
    assert only_new.decode(from_rotated) == data, "the newest key did not sign"
    with refused(error, "a message of [new, old] decoded with [old] alone (old key signed)"):
        only_old.decode(from_rotated)
    with refused(error, "a message of the removed old key"):
        only_new.decode(from_old)
    assert make_codec([old, new]).decode(only_old.encode(data)) == data


def check_encryption_hides_data(codec: BytesCodec) -> None:
    """Assert that an encrypter's output never contains its input (16 bytes and more) and
    that encoding the same data twice gives two different messages (a fresh nonce)."""

    @_SETTINGS
    @given(data=st.binary(min_size=16, max_size=200))
    def hides(data: bytes) -> None:
        one, two = codec.encode(data), codec.encode(data)
        assert data not in one, "the plaintext shows in the encrypted message"
        assert one != two, "two encryptions of the same data are identical"

    hides()


class SerializerSuite:
    """The serializer contract. Subclass it as ``TestMySerializer``, define
    :meth:`make_serializer`, and set :attr:`values` (a strategy of what it accepts) and
    :attr:`rejected` (values ``dumps`` must refuse)."""

    #: The values the serializer must give back unchanged.
    values: ClassVar[st.SearchStrategy[Any]] = JSON_VALUES
    #: Values ``dumps`` must refuse with ``SerializationError``.
    rejected: ClassVar[Sequence[Any]] = ()
    #: Whether ``loads`` must survive every single-bit flip of its input; false for a
    #: serializer only ever given verified bytes (pickle), which is then checked on
    #: truncations and extensions (see :func:`check_serializer_survives_damage`).
    bit_flips: ClassVar[bool] = True

    def make_serializer(self) -> Serializer:
        """Return the serializer to check."""
        raise NotImplementedError("override make_serializer() in your subclass")

    def test_is_a_serializer(self) -> None:
        assert isinstance(self.make_serializer(), Serializer)

    def test_round_trip(self) -> None:
        check_serializer_round_trip(self.make_serializer(), self.values)

    def test_refuses_what_it_cannot_give_back(self) -> None:
        check_serializer_refuses(self.make_serializer(), self.rejected)

    def test_damaged_data_is_a_deserialization_error(self) -> None:
        check_serializer_survives_damage(
            self.make_serializer(), self.values, bit_flips=self.bit_flips
        )


class CodecSuite:
    """The signer contract (any :class:`~beaker.serializers.base.BytesCodec`). Subclass it
    as ``TestMyCodec`` and define :meth:`make_codec`."""

    def make_codec(self, keys: Sequence[bytes]) -> BytesCodec:
        """Return the codec to check, with ``keys`` (newest first)."""
        raise NotImplementedError("override make_codec(keys) in your subclass")

    def test_is_a_codec(self) -> None:
        assert isinstance(self.make_codec([b"key"]), BytesCodec)

    def test_round_trip(self) -> None:
        check_codec_round_trip(self.make_codec([b"newest", b"older"]))

    def test_tampering_is_detected(self) -> None:
        check_codec_detects_tampering(self.make_codec([b"newest", b"older"]))

    def test_key_rotation(self) -> None:
        check_key_rotation(self.make_codec)


class EncrypterSuite(CodecSuite):
    """:class:`CodecSuite` plus secrecy: the output hides the input, and never repeats."""

    def test_hides_data(self) -> None:
        check_encryption_hides_data(self.make_codec([b"key"]))
