"""Every exception the library raises, under one root: :class:`BeakerError`.

Each class also inherits the builtin family it belongs to (``ValueError``, ``TypeError``,
``ConnectionError`` …) so callers that already catch those keep working, and each carries the
offending option, key or address as attributes, not only inside its message.

This module imports nothing from the rest of the package.
"""

from __future__ import annotations

from typing import Any


class BeakerError(Exception):
    """Root of every error raised by ``beaker``."""


class ConfigError(BeakerError, ValueError):
    """A configuration option has a value the library cannot use.

    Attributes:
        option: the option's name, e.g. ``"cache.expire"`` or ``"data_dir"``.
        value: the value that was given.
        expected: what would have been accepted, in words.
    """

    def __init__(self, option: str, value: Any, expected: str) -> None:
        self.option = option
        self.value = value
        self.expected = expected
        super().__init__(f"option {option!r} = {value!r}: expected {expected}")


class ComponentTypeError(BeakerError, TypeError):
    """A component was given an argument of the wrong type at construction.

    Attributes:
        argument: the argument's name, e.g. ``"store"``.
        value: what was passed.
        expected: the expected type or protocol, in words.
    """

    def __init__(self, argument: str, value: Any, expected: str) -> None:
        self.argument = argument
        self.value = value
        self.expected = expected
        super().__init__(
            f"argument {argument!r} must be {expected}, got {type(value).__name__}: {value!r}"
        )


class SerializationError(BeakerError, ValueError):
    """A value could not be turned into bytes by the configured serializer.

    Attributes:
        key: the cache or session key being written (``None`` when unknown).
        reason: what the serializer objected to.
    """

    def __init__(self, reason: str, key: str | None = None) -> None:
        self.key = key
        self.reason = reason
        where = f" for key {key!r}" if key is not None else ""
        super().__init__(f"cannot serialize value{where}: {reason}")


class DeserializationError(BeakerError, ValueError):
    """Stored or received bytes could not be turned back into a value.

    Caches treat this as a miss (with a logged warning); sessions as a fresh session.
    """


class InvalidSignature(DeserializationError):
    """Bytes failed HMAC verification or AEAD decryption under every configured key."""


class StoreError(BeakerError):
    """A store could not complete an operation."""


class StoreUnavailable(StoreError, ConnectionError):
    """A store's server cannot be reached.

    Attributes:
        address: the server's address as configured (URL with any password removed).
    """

    def __init__(self, address: str, reason: str = "") -> None:
        self.address = address
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"store at {address} is unavailable{detail}")


class LockTimeout(BeakerError, TimeoutError):
    """A lock could not be acquired within the allowed time.

    Attributes:
        name: the lock's name (usually ``namespace`` and key).
        timeout: the seconds waited.
    """

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        super().__init__(f"lock {name!r} not acquired within {timeout:g} s")


class LockError(BeakerError, RuntimeError):
    """A lock was used wrongly, e.g. released when it is not held."""


class CookieTooLarge(BeakerError, ValueError):
    """A session cookie would exceed the browser limit (4096 bytes).

    Attributes:
        size: the encoded cookie's size in bytes.
        limit: the limit in bytes.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"session cookie is {size} bytes, over the {limit}-byte limit: store less in a "
            "cookie-only session or use a server-side store"
        )


class SessionError(BeakerError, RuntimeError):
    """A session was used in a way its state does not allow."""


class SessionConflict(SessionError):
    """A session save that kept losing to other requests' saves of the same session: every
    attempt re-read the newer version and merged this request's changes into it, and other
    requests saved again before the write, for ``seconds``. Nothing of this request was
    written (a save never writes over another request's). Serialise one browser's requests
    (``lock_requests=True``) where this happens.

    Attributes:
        session: the first 8 characters of the session id (never the whole id).
        attempts: how many compare-and-set writes were refused.
        seconds: how long the save kept trying.
    """

    def __init__(self, session: str, attempts: int, seconds: float) -> None:
        super().__init__(
            f"session {session}... was saved by other requests {attempts} times while this "
            f"request tried for {seconds:g} s to save it: nothing of this request was "
            "written; serialise the browser's requests (lock_requests=True)"
        )
        self.session, self.attempts, self.seconds = session, attempts, seconds
