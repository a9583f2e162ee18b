"""Session ids: :class:`SessionIds` issues them from :mod:`secrets` and decides which strings
are well-formed ids, so that nothing else a client sends is ever used as a store key.

Imports only :mod:`beaker.errors`; must not import from ``beaker.caching`` or
``beaker.compat``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Final

import attrs

from beaker.errors import ConfigError
from beaker.validators import in_range, is_callable

_HEX: Final = re.compile(r"[0-9a-f]+")


@attrs.frozen
class SessionIds:
    """Issues random session ids and recognises well-formed ones.

    An id is ``2 * nbytes`` lowercase hex digits (32 by default, the length of Beaker's ids).
    :meth:`is_valid` accepts exactly that shape, so an id such as ``../../etc/passwd`` or one
    of 5000 characters never reaches a store.

    Args:
        nbytes: random bytes per id (``int``, 16 to 64; default 16 = 128 bits).
        token_hex: the random source, ``token_hex(nbytes) -> str`` of ``2 * nbytes`` hex
            digits (default :func:`secrets.token_hex`); injectable for tests only.

    Raises:
        ComponentTypeError: ``nbytes`` is not an ``int`` or ``token_hex`` is not callable.
        ConfigError: ``nbytes`` is outside 16..64.
    """

    nbytes: int = attrs.field(default=16, validator=in_range(16, 64, unit="random bytes"))
    token_hex: Callable[[int], str] = attrs.field(
        default=secrets.token_hex,
        validator=is_callable("a callable token_hex(nbytes) -> str"),
        repr=False,
    )

    @property
    def length(self) -> int:
        """Characters per id."""
        return 2 * self.nbytes

    def new(self) -> str:
        """A fresh id.

        Raises:
            ConfigError: the injected ``token_hex`` returned something that is not an id.
        """
        value = self.token_hex(self.nbytes)
        if not self.is_valid(value):
            raise ConfigError("token_hex", value, f"{self.length} lowercase hex digits")
        return value

    def is_valid(self, value: object) -> bool:
        """Whether ``value`` has the shape of an id this issuer makes (nothing more: whether
        the id is known is the store's question)."""
        return (
            type(value) is str
            and len(value) == 2 * self.nbytes
            and _HEX.fullmatch(value) is not None
        )
