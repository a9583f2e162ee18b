"""Expiry policies, key strategies and the circuit breaker of network connections."""

from beaker.policies.breaker import CircuitBreaker
from beaker.policies.expiry import TTL, ExpiryPolicy, NoExpiry, XFetch
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
    "CircuitBreaker",
    "ExpiryPolicy",
    "HashedKey",
    "KeyStrategy",
    "NoExpiry",
    "PlainKey",
    "XFetch",
    "args_key",
    "function_namespace",
    "joined",
]
