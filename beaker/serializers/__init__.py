"""Serializers (values to bytes) and byte codecs (signers, encrypters) that wrap them."""

from beaker.serializers.aead import AESGCMEncrypter
from beaker.serializers.base import BytesCodec, Sealed, Serializer
from beaker.serializers.json import JSONSerializer
from beaker.serializers.pickle import PickleSerializer
from beaker.serializers.signing import HMACSigner

__all__ = [
    "AESGCMEncrypter",
    "BytesCodec",
    "HMACSigner",
    "JSONSerializer",
    "PickleSerializer",
    "Sealed",
    "Serializer",
]
