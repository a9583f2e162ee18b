"""Expiry policies and key strategies."""

from beaker.policies.expiry import TTL, ExpiryPolicy, NoExpiry
from beaker.policies.keys import (
    CallSignature,
    HashedKey,
    KeyStrategy,
    PlainKey,
    args_key,
    function_namespace,
)

__all__ = [
    "TTL",
    "CallSignature",
    "ExpiryPolicy",
    "HashedKey",
    "KeyStrategy",
    "NoExpiry",
    "PlainKey",
    "args_key",
    "function_namespace",
]
