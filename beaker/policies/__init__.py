"""Expiry policies and key strategies."""

from beaker.policies.expiry import TTL, ExpiryPolicy, NoExpiry
from beaker.policies.keys import (
    ArgsKey,
    CallSignature,
    HashedKey,
    KeyStrategy,
    PlainKey,
    args_key,
    function_namespace,
    joined,
)

__all__ = [
    "TTL",
    "ArgsKey",
    "CallSignature",
    "ExpiryPolicy",
    "HashedKey",
    "KeyStrategy",
    "NoExpiry",
    "PlainKey",
    "args_key",
    "function_namespace",
    "joined",
]
