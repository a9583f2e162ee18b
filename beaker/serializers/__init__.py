"""Serializers (values to bytes) and byte codecs (signers, encrypters) that wrap them."""

from beaker.serializers.base import BytesCodec, Sealed, Serializer
from beaker.serializers.json import JSONSerializer
from beaker.serializers.pickle import PickleSerializer

__all__ = ["BytesCodec", "JSONSerializer", "PickleSerializer", "Sealed", "Serializer"]
