"""Beaker's ``beaker.util`` helpers: configuration parsing (from :mod:`beaker.compat.config`),
the decorator namespace of a function, and the small documented utilities
(``verify_directory``, ``encoded_path``, ``SyncDict``, ``ThreadLocal``).

Imports the standard library, :mod:`beaker.policies` and :mod:`beaker.compat.config`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from beaker.compat.config import (
    DEFAULT_KEY_LENGTH,
    asbool,
    aslist,
    coerce_cache_params,
    coerce_session_params,
    parse_cache_config_options,
)
from beaker.policies.keys import CallSignature
from beaker.policies.keys import function_namespace as func_namespace

__all__ = [
    "DEFAULT_CACHE_KEY_LENGTH",
    "SyncDict",
    "ThreadLocal",
    "asbool",
    "aslist",
    "coerce_cache_params",
    "coerce_session_params",
    "encoded_path",
    "func_namespace",
    "has_self_arg",
    "parse_cache_config_options",
    "verify_directory",
]

#: Beaker's name for the default ``key_length`` (250).
DEFAULT_CACHE_KEY_LENGTH = DEFAULT_KEY_LENGTH

V = TypeVar("V")


def has_self_arg(func: Callable[..., Any]) -> bool:
    """Whether ``func``'s first parameter is named ``self`` or ``cls`` (left out of keys)."""
    return CallSignature.of(func).skip_first


def verify_directory(path: str | os.PathLike[str]) -> None:
    """Create ``path`` (and parents) if missing; a directory made concurrently by another
    thread or process is not an error.

    Raises:
        OSError: the directory cannot be created.
    """
    os.makedirs(path, exist_ok=True)


def encoded_path(
    root: str,
    identifiers: Iterable[str],
    extension: str = ".enc",
    depth: int = 3,
    digest_filenames: bool = True,
) -> str:
    """A file path under ``root`` for ``identifiers``, spread over ``depth - 1`` levels of
    sub-directories named by the identifier's first characters (Beaker's layout; the
    directories are created).

    Args:
        root: the base directory.
        identifiers: joined with ``"_"`` into the file's identifier.
        extension: appended to the file name.
        depth: directory levels + 1 (``int``).
        digest_filenames: use the SHA-1 hex digest of the identifier (``bool``).
    """
    ident = "_".join(identifiers)
    if digest_filenames:
        ident = hashlib.sha1(ident.encode("utf-8")).hexdigest()
    ident = os.path.basename(ident).replace(".", "")
    directory = os.path.join(root, *(ident[:level] for level in range(1, depth)))
    verify_directory(directory)
    return os.path.join(directory, ident + extension)


class SyncDict:
    """A thread-safe "get, or create once" map (Beaker's ``SyncDict``)."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.dict: dict[Any, Any] = {}

    def get(self, key: Any, createfunc: Callable[..., V], *args: Any, **kwargs: Any) -> V:
        """Return the value under ``key``, creating it with ``createfunc(*args, **kwargs)``
        (once, even when many threads ask at the same time) if it is absent."""
        try:
            return self.dict[key]  # type: ignore[no-any-return]
        except KeyError:
            with self.mutex:
                if key not in self.dict:
                    self.dict[key] = createfunc(*args, **kwargs)
                return self.dict[key]  # type: ignore[no-any-return]

    def has_key(self, key: Any) -> bool:
        return key in self.dict

    def __contains__(self, key: Any) -> bool:
        return key in self.dict

    def __getitem__(self, key: Any) -> Any:
        return self.dict[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.dict[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.dict[key]

    def clear(self) -> None:
        self.dict.clear()


class ThreadLocal:
    """Holds one value per thread (Beaker's ``ThreadLocal``)."""

    __slots__ = ("_local",)

    def __init__(self) -> None:
        self._local = threading.local()

    def put(self, value: Any) -> None:
        self._local.value = value

    def has(self) -> bool:
        return hasattr(self._local, "value")

    def get(self, default: Any = None) -> Any:
        return getattr(self._local, "value", default)

    def remove(self) -> None:
        del self._local.value
