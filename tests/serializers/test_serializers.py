"""JSONSerializer, PickleSerializer and Sealed compositions run the serializer contract of
beaker.testing: exact round trips of what each accepts, refusal of what it cannot give back,
damaged bytes a DeserializationError."""

from __future__ import annotations

import datetime
import threading

from beaker.serializers import JSONSerializer, PickleSerializer, Sealed
from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.signing import HMACSigner
from beaker.testing import JSON_VALUES, PICKLE_VALUES, SerializerSuite

#: Values JSON would give back changed (or not at all): each must be refused.
NOT_JSON = (
    (1, 2),
    {1, 2},
    b"bytes",
    {1: "int key"},
    datetime.date(2024, 1, 1),
    ["nested", ("tuple",)],
    "lone \ud800 surrogate",
)


class TestJSONSerializer(SerializerSuite):
    values = JSON_VALUES
    rejected = NOT_JSON

    def make_serializer(self) -> JSONSerializer:
        return JSONSerializer()


class TestPickleSerializer(SerializerSuite):
    values = PICKLE_VALUES
    rejected = (lambda: None, threading.Lock(), (n for n in range(3)))
    bit_flips = False  # pickle is for verified bytes only: TestEncryptedPickle flips its bits

    def make_serializer(self) -> PickleSerializer:
        return PickleSerializer()


class TestSignedJSON(TestJSONSerializer):
    def make_serializer(self) -> Sealed:
        return Sealed(JSONSerializer(), HMACSigner(["newest", "older"]))


class TestEncryptedPickle(TestPickleSerializer):
    bit_flips = True  # the encrypter refuses every flip before pickle sees the bytes

    def make_serializer(self) -> Sealed:
        return Sealed(PickleSerializer(), AESGCMEncrypter(["newest", "older"]))
