"""Key strategies: how a call's arguments become a key, and how a key is made safe to store.

:func:`args_key` builds keys exactly as Beaker's decorators do, so that keys written by one
are found by the other and ``region_invalidate`` calls keep hitting the same entries.
:class:`HashedKey` replaces over-long keys by their SHA-1 hex digest, as Beaker's
``key_length`` does.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any, Protocol, runtime_checkable

import attrs

from beaker.errors import ConfigError
from beaker.validators import positive_int


@runtime_checkable
class KeyStrategy(Protocol):
    """Turns a caller's key into the key the store sees. Must be a pure function.

    A strategy may also offer ``unchanged_up_to(namespace) -> int``: the length up to which it
    returns keys unchanged, so the cache skips calling it for those (as :class:`HashedKey`).
    """

    def __call__(self, namespace: str, key: str) -> str: ...


@attrs.frozen
class PlainKey:
    """Keys are used as they are (the default)."""

    def __call__(self, namespace: str, key: str) -> str:
        return key


@attrs.frozen
class HashedKey:
    """Keys whose length plus their namespace's length exceeds ``max_length`` become the SHA-1
    hex digest of their UTF-8 bytes (Beaker's ``key_length`` rule).

    Args:
        max_length: the limit in characters (``int`` > 0; Beaker's default 250).

    Raises:
        ConfigError: ``max_length`` is not a positive ``int``.
    """

    max_length: int = attrs.field(default=250, validator=positive_int(unit="characters"))

    def unchanged_up_to(self, namespace: str) -> int:
        """The longest key of ``namespace`` returned unchanged (so a cache need not call the
        strategy for shorter ones)."""
        return self.max_length - len(namespace)

    def __call__(self, namespace: str, key: str) -> str:
        if len(key) + len(namespace) > self.max_length:
            return hashlib.sha1(key.encode("utf-8")).hexdigest()
        return key


@attrs.frozen
class CallSignature:
    """What :func:`args_key` needs of a function, computed once per decorated function.

    Attributes:
        signature: the function's ``inspect.Signature`` (binds keyword arguments).
        skip_first: whether the first argument is ``self``/``cls`` and left out of keys.
        ignore: names of parameters left out of keys (``memoize(..., ignore=("request",))``,
            as Beaker PR #221 proposed); empty by default.
    """

    signature: inspect.Signature
    skip_first: bool
    ignore: frozenset[str] = frozenset()

    @classmethod
    def of(cls, func: Callable[..., Any], ignore: Iterable[str] = ()) -> CallSignature:
        """Inspect ``func`` (a plain function, not yet bound).

        Raises:
            ConfigError: ``ignore`` names a parameter ``func`` does not have.
        """
        signature = inspect.signature(func)
        params = list(signature.parameters)
        ignored = frozenset(ignore)
        unknown = sorted(ignored - set(params))
        if unknown:
            raise ConfigError("ignore", unknown, f"parameters of {func.__name__}: {params}")
        return cls(signature, bool(params) and params[0] in ("self", "cls"), ignored)

    def kept(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], list[str]]:
        """The call's arguments that make its key, those named in :attr:`ignore` left out:
        the positional values, and ``name:value`` of keyword-only and ``**kwargs`` ones.

        Raises:
            TypeError: the arguments do not fit the signature.
        """
        bound = self.signature.bind(*args, **kwargs)
        if not self.ignore:
            return bound.args, [f"{name}:{value}" for name, value in bound.kwargs.items()]
        positional: list[Any] = []
        extra: list[str] = []
        for name, value in bound.arguments.items():
            if name in self.ignore:
                continue
            kind = self.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                positional.extend(value)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                extra.extend(f"{key}:{item}" for key, item in value.items())
            elif kind is inspect.Parameter.KEYWORD_ONLY:
                extra.append(f"{name}:{value}")
            else:
                positional.append(value)
        return tuple(positional), extra


def joined(parts: Iterable[Any]) -> str:
    """Beaker's key of already-ordered parts: their ``str()`` joined by single spaces (what
    ``region_invalidate`` and ``CacheManager.invalidate`` compute from their arguments)."""
    return " ".join(map(str, parts))


def args_key(
    parts: Iterable[Any], call: CallSignature, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> str:
    """Build Beaker's decorator key: ``str()`` of the key parts, then of the call's positional
    arguments (a first ``self``/``cls`` skipped), then ``name:value`` of keyword-only or
    ``**kwargs`` arguments, joined by single spaces.

    Keyword arguments that name positional parameters are bound to their position first, so
    ``f(1, b=2)`` and ``f(1, 2)`` share a key. Parameters in ``call.ignore`` are left out.

    Raises:
        TypeError: the arguments do not fit the function's signature.
    """
    extra: list[str] = []
    if kwargs or call.ignore:
        args, extra = call.kept(args, kwargs)
    if call.skip_first and "self" not in call.ignore and "cls" not in call.ignore:
        args = args[1:]
    return joined(chain(parts, args, extra))


_PRECOMPUTED_ARITY = 16


@attrs.frozen
class ArgsKey:
    """:func:`args_key` for one function and one set of key parts, with the constant work
    (inspecting the signature, ``str()`` of the parts, the format of each arity) done once.

    Call it as ``make_key(args, kwargs)``; the result equals
    ``args_key(key_parts, CallSignature.of(func), args, kwargs)``.
    """

    call: CallSignature
    parts: tuple[str, ...]
    # formats[n] joins the parts and n arguments with spaces ("%s" formatting is str()).
    formats: tuple[str, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        escaped = [part.replace("%", "%%") for part in self.parts]
        formats = tuple(" ".join(escaped + ["%s"] * n) for n in range(_PRECOMPUTED_ARITY + 1))
        object.__setattr__(self, "formats", formats)

    @classmethod
    def of(
        cls, func: Callable[..., Any], key_parts: Iterable[Any] = (), ignore: Iterable[str] = ()
    ) -> ArgsKey:
        """Prepare the key builder of ``func`` (a plain function) with ``key_parts``, leaving
        the parameters named in ``ignore`` out of its keys.

        Raises:
            ConfigError: ``ignore`` names a parameter ``func`` does not have.
        """
        return cls(CallSignature.of(func, ignore), tuple(str(part) for part in key_parts))

    @property
    def inline_formats(self) -> tuple[str, ...]:
        """:attr:`formats` when a positional call's key is ``formats[len(args)] % args`` (no
        ``self`` to skip, nothing ignored), else ``()``: what a memoized wrapper formats inline."""
        return () if self.call.skip_first or self.call.ignore else self.formats

    def __call__(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        if kwargs or self.call.ignore:
            return args_key(self.parts, self.call, args, kwargs)
        if self.call.skip_first:
            args = args[1:]
        if len(args) <= _PRECOMPUTED_ARITY:
            return self.formats[len(args)] % args
        return args_key(self.parts, self.call, args, kwargs)


def function_namespace(func: Callable[..., Any]) -> str:
    """The namespace Beaker gives a decorated function: ``"<source file>|<name>"``, or
    ``"<module>.<class>"`` for a bound method."""
    owner = getattr(func, "__self__", None)
    if owner is not None and hasattr(func, "__func__"):
        kls = owner if isinstance(owner, type) else type(owner)
        return f"{kls.__module__}.{kls.__name__}"
    try:
        source = inspect.getsourcefile(func)
    except TypeError:
        source = None
    return f"{source or func.__module__}|{func.__name__}"
