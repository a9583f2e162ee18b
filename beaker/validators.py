"""Validators for the fields of ``attrs`` components, in the shape of ``attrs.validators``.

Each public lower-case factory returns a small frozen, slotted validator with a readable
``repr``. A validator is called by ``attrs`` as ``validator(instance, attribute, value)`` and
raises with the field's name as the option; :meth:`check` runs the same rule for a name the
caller chooses (the compat layer passes the option as the application spelled it, e.g.
``"session.timeout"``), and returns the value. Compose by wrapping, as in ``attrs``:
``optional(conforms(Serializer, "a Serializer"))``.

Numbers that are out of range or not numbers raise :class:`~beaker.errors.ConfigError` (also a
``ValueError``); components and types that do not fit raise
:class:`~beaker.errors.ComponentTypeError` (also a ``TypeError``).

This module imports only :mod:`beaker.errors`, ``attrs`` and the standard library.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection
from typing import Any, Final, TypeVar

import attrs
from attrs.validators import optional

from beaker.errors import ComponentTypeError, ConfigError

__all__ = [
    "MAX_SECONDS",
    "MAX_WAIT",
    "checked_by",
    "conforms",
    "in_range",
    "instance_of",
    "is_callable",
    "non_empty_str",
    "one_of",
    "optional",
    "positive_int",
    "satisfies",
    "seconds",
]

T = TypeVar("T")

#: The longest duration any option accepts, in seconds (10**10, about 317 years). Longer
#: ones cannot be meant and overflow deadlines (``datetime``, millisecond TTLs) downstream.
MAX_SECONDS: Final = 10**10

#: The longest lock wait in seconds: :data:`MAX_SECONDS`, or less where ``threading`` accepts
#: less (``threading.TIMEOUT_MAX``), so a wait never overflows inside ``Lock.acquire``.
MAX_WAIT: Final = min(MAX_SECONDS, threading.TIMEOUT_MAX)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Validator:
    """The ``attrs`` calling convention over ``check(option, value)``."""

    __slots__ = ()

    def check(self, option: str, value: T) -> T:
        raise NotImplementedError

    def __call__(self, instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        self.check(attribute.name, value)


@attrs.frozen(repr=False)
class _SecondsValidator(_Validator):
    minimum: float
    maximum: float
    positive: bool
    allow_inf: bool
    allow_none: bool
    expected: str

    def check(self, option: str, value: T) -> T:
        if value is None and self.allow_none:
            return value
        if _is_number(value):
            number: Any = value
            if number == math.inf and self.allow_inf:
                return value
            if self.minimum <= number <= self.maximum and (number > 0 or not self.positive):
                return value  # NaN fails every comparison above
        raise ConfigError(option, value, self.expected)

    def __repr__(self) -> str:
        return f"<seconds validator: {self.expected}>"


def seconds(
    minimum: float = 0,
    maximum: float = MAX_SECONDS,
    *,
    positive: bool = False,
    optional: bool = False,
    allow_inf: bool = False,
) -> _SecondsValidator:
    """A number of seconds (``int`` or ``float``, never ``bool`` or NaN) in a finite range.

    Args:
        minimum: the least value accepted (inclusive), seconds.
        maximum: the greatest finite value accepted (inclusive), seconds; defaults to
            :data:`MAX_SECONDS`.
        positive: also require the value to be greater than 0.
        optional: also accept ``None`` (document what it means, e.g. "wait forever").
        allow_inf: also accept ``math.inf``; only where the option documents it as "forever".

    Raises:
        ConfigError: (from the validator) the value is not such a number; carries the option.
    """
    low = "> 0" if positive and minimum <= 0 else f">= {minimum:g}"
    words = f"a number of seconds {low} and at most {maximum:g}"
    if allow_inf:
        words += ", or inf (forever)"
    if optional:
        words += ", or None"
    return _SecondsValidator(minimum, maximum, positive, allow_inf, optional, words)


@attrs.frozen(repr=False)
class _RangeValidator(_Validator):
    minimum: int
    maximum: int | None
    allow_none: bool
    expected: str

    def check(self, option: str, value: T) -> T:
        if value is None and self.allow_none:
            return value
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.minimum <= value
            and (self.maximum is None or value <= self.maximum)
        ):
            return value
        raise ConfigError(option, value, self.expected)

    def __repr__(self) -> str:
        return f"<in_range validator: {self.expected}>"


def in_range(
    minimum: int, maximum: int | None = None, *, unit: str = "", optional: bool = False
) -> _RangeValidator:
    """An ``int`` (never ``bool``) from ``minimum`` to ``maximum``, both inclusive.

    Args:
        minimum: the least value accepted.
        maximum: the greatest value accepted; ``None`` for no upper bound.
        unit: what is counted, for the error message (e.g. ``"bytes"``).
        optional: also accept ``None``.

    Raises:
        ConfigError: (from the validator) the value is not such an ``int``.
    """
    if maximum is None:
        words = f"an int >= {minimum}"
    else:
        words = f"an int from {minimum} to {maximum}"
    if unit:
        words += f" ({unit})"
    if optional:
        words += ", or None"
    return _RangeValidator(minimum, maximum, optional, words)


def positive_int(*, unit: str = "", optional: bool = False) -> _RangeValidator:
    """An ``int`` > 0 (a size or a count); as :func:`in_range` from 1."""
    return in_range(1, unit=unit, optional=optional)


@attrs.frozen(repr=False)
class _InstanceOfValidator(_Validator):
    types: type | tuple[type, ...]
    expected: str

    def check(self, option: str, value: T) -> T:
        if not isinstance(value, self.types):
            raise ComponentTypeError(option, value, self.expected)
        return value

    def __repr__(self) -> str:
        return f"<instance_of validator: {self.expected}>"


def instance_of(types: type | tuple[type, ...], expected: str) -> _InstanceOfValidator:
    """An instance of ``types`` (a type or a tuple of types, checked with ``isinstance``).

    ``instance_of(bool, "a bool")`` accepts only ``True`` and ``False``; for numbers use
    :func:`seconds` or :func:`in_range`, which refuse ``bool``.

    Args:
        types: the accepted type or types.
        expected: what is accepted, in readable words (``"a CookieSettings"``).

    Raises:
        ComponentTypeError: (from the validator) the value is of another type.
    """
    return _InstanceOfValidator(types, expected)


def conforms(protocol: type | tuple[type, ...], expected: str) -> _InstanceOfValidator:
    """An implementation of ``protocol``, a ``runtime_checkable`` :class:`typing.Protocol`.

    Args:
        protocol: the protocol, e.g. :class:`~beaker.stores.base.Store`, or a tuple of them.
        expected: what is accepted, in readable words (``"a Store (get/set/delete/...)"``).

    Raises:
        ComponentTypeError: (from the validator) the value lacks a method of ``protocol``.
    """
    return _InstanceOfValidator(protocol, expected)


@attrs.frozen(repr=False)
class _NonEmptyStrValidator(_Validator):
    def check(self, option: str, value: T) -> T:
        if not isinstance(value, str):
            raise ComponentTypeError(option, value, "a non-empty str")
        if not value:
            raise ConfigError(option, value, "a non-empty str")
        return value

    def __repr__(self) -> str:
        return "<non_empty_str validator>"


_NON_EMPTY_STR: Final = _NonEmptyStrValidator()


def non_empty_str() -> _NonEmptyStrValidator:
    """A ``str`` with at least one character.

    Raises:
        ComponentTypeError: (from the validator) not a ``str``.
        ConfigError: (from the validator) the empty string.
    """
    return _NON_EMPTY_STR


@attrs.frozen(repr=False)
class _IsCallableValidator(_Validator):
    expected: str

    def check(self, option: str, value: T) -> T:
        if not callable(value):
            raise ComponentTypeError(option, value, self.expected)
        return value

    def __repr__(self) -> str:
        return f"<is_callable validator: {self.expected}>"


def is_callable(expected: str = "a callable") -> _IsCallableValidator:
    """Anything callable.

    Args:
        expected: the call's shape in readable words (``"a clock () -> epoch seconds"``).

    Raises:
        ComponentTypeError: (from the validator) the value is not callable.
    """
    return _IsCallableValidator(expected)


@attrs.frozen(repr=False)
class _OneOfValidator(_Validator):
    choices: tuple[object, ...]
    expected: str

    def check(self, option: str, value: T) -> T:
        if not any(value is choice or value == choice for choice in self.choices):
            raise ConfigError(option, value, self.expected)
        return value

    def __repr__(self) -> str:
        return f"<one_of validator: {self.expected}>"


def one_of(choices: Collection[object]) -> _OneOfValidator:
    """One of ``choices`` (compared with ``==``; ``None`` may be a choice).

    Raises:
        ConfigError: (from the validator) any other value.
    """
    options = tuple(choices)
    words = ", ".join(repr(choice) for choice in options[:-1])
    words = f"{words} or {options[-1]!r}" if words else f"{options[-1]!r}"
    return _OneOfValidator(options, f"one of {words}")


@attrs.frozen(repr=False)
class _SatisfiesValidator(_Validator):
    predicate: Callable[[Any], object]
    expected: str
    types: type | tuple[type, ...]
    type_expected: str

    def check(self, option: str, value: T) -> T:
        if not isinstance(value, self.types):
            raise ComponentTypeError(option, value, self.type_expected)
        if not self.predicate(value):
            raise ConfigError(option, value, self.expected)
        return value

    def __repr__(self) -> str:
        return f"<satisfies validator: {self.expected}>"


def satisfies(
    predicate: Callable[[Any], object],
    expected: str,
    *,
    types: type | tuple[type, ...] = str,
    type_expected: str = "a str",
) -> _SatisfiesValidator:
    """An instance of ``types`` for which ``predicate(value)`` is true, e.g. a ``str`` that a
    compiled pattern's ``fullmatch`` accepts: ``satisfies(NAME.fullmatch, "letters only")``.

    Args:
        predicate: the rule, ``(value) -> truthy``; it may raise
            :class:`~beaker.errors.ConfigError` itself to say more.
        expected: what the rule accepts, in readable words.
        types: the accepted type or types, checked first.
        type_expected: ``types`` in readable words.

    Raises:
        ComponentTypeError: (from the validator) the value is not of ``types``.
        ConfigError: (from the validator) ``predicate`` refused the value.
    """
    return _SatisfiesValidator(predicate, expected, types, type_expected)


@attrs.frozen(repr=False)
class _CheckedByValidator(_Validator):
    function: Callable[[Any, str], object]

    def check(self, option: str, value: T) -> T:
        self.function(value, option)
        return value

    def __repr__(self) -> str:
        return f"<checked_by validator: {getattr(self.function, '__name__', self.function)}>"


def checked_by(function: Callable[[Any, str], object]) -> _CheckedByValidator:
    """The rule of a public check function ``function(value, option)`` as a validator: for a
    rule that other code also applies to options under their own names (the compat layer
    checks ``cookie_expires`` with the same function as ``CookieSettings.expires``).

    Args:
        function: the check; it raises :class:`~beaker.errors.ConfigError` or
            :class:`~beaker.errors.ComponentTypeError` naming ``option``, and its return
            value is ignored.

    Raises:
        ConfigError, ComponentTypeError: (from the validator) as ``function`` raises them.
    """
    return _CheckedByValidator(function)
