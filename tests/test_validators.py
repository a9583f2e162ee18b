"""The validator factories of beaker.validators, on real attrs classes."""

from __future__ import annotations

import math
import re
from typing import Any, Protocol, runtime_checkable

import attrs
import pytest

from beaker.errors import ComponentTypeError, ConfigError
from beaker.validators import (
    MAX_SECONDS,
    conforms,
    in_range,
    instance_of,
    is_callable,
    non_empty_str,
    one_of,
    optional,
    positive_int,
    satisfies,
    seconds,
)


@attrs.frozen
class Timing:
    ttl: float = attrs.field(default=1, validator=seconds(positive=True))
    wait: float | None = attrs.field(default=None, validator=seconds(optional=True))
    forever: float = attrs.field(default=0, validator=seconds(allow_inf=True))


@pytest.mark.parametrize(
    "bad", [0, -1, math.nan, math.inf, -math.inf, 10**400, MAX_SECONDS + 1, True, "5", None]
)
def test_seconds_refuses_what_cannot_be_a_duration(bad: Any) -> None:
    with pytest.raises(ConfigError) as info:
        Timing(ttl=bad)
    assert info.value.option == "ttl" and "seconds" in info.value.expected


@pytest.mark.parametrize("good", [1, 0.001, 2.5, MAX_SECONDS, float(MAX_SECONDS)])
def test_seconds_accepts_finite_durations_in_range(good: float) -> None:
    assert Timing(ttl=good).ttl == good


def test_optional_and_inf_only_where_asked() -> None:
    assert Timing(wait=None).wait is None and Timing(wait=0).wait == 0
    assert Timing(forever=math.inf).forever == math.inf
    for bad in (math.inf, math.nan, -0.5):
        with pytest.raises(ConfigError, match="'wait'"):
            Timing(wait=bad)
    with pytest.raises(ConfigError):
        Timing(forever=math.nan)
    with pytest.raises(ConfigError):
        Timing(forever=None)  # type: ignore[arg-type]


def test_seconds_bounds_and_check_under_another_name() -> None:
    between = seconds(2, 10)
    assert between.check("session.timeout", 2) == 2 and between.check("x", 10.0) == 10.0
    with pytest.raises(ConfigError) as info:
        between.check("session.timeout", 11)
    assert info.value.option == "session.timeout" and info.value.value == 11
    assert ">= 2 and at most 10" in info.value.expected


def test_ints_in_range() -> None:
    sizes = in_range(16, 64, unit="bytes")
    assert sizes.check("nbytes", 16) == 16 and sizes.check("nbytes", 64) == 64
    for bad in (15, 65, 16.0, True, "16", None):
        with pytest.raises(ConfigError, match="from 16 to 64 \\(bytes\\)"):
            sizes.check("nbytes", bad)
    count = positive_int(optional=True)
    assert count.check("max_entries", None) is None and count.check("max_entries", 10**30)
    with pytest.raises(ConfigError, match=">= 1"):
        count.check("max_entries", 0)


@runtime_checkable
class Greeter(Protocol):
    def greet(self) -> str: ...


class English:
    def greet(self) -> str:
        return "hello"


def test_types_protocols_and_callables_raise_component_type_errors() -> None:
    with pytest.raises(ComponentTypeError) as info:
        conforms(Greeter, "a Greeter (greet())").check("greeter", object())
    assert info.value.argument == "greeter" and info.value.expected == "a Greeter (greet())"
    assert isinstance(conforms(Greeter, "a Greeter").check("g", English()), English)
    flag = instance_of(bool, "a bool")
    assert flag.check("fsync", False) is False
    with pytest.raises(ComponentTypeError, match="a bool"):
        flag.check("fsync", 1)
    with pytest.raises(ComponentTypeError, match="a clock"):
        is_callable("a clock () -> seconds").check("clock", 5)


def test_non_empty_str_and_one_of() -> None:
    assert non_empty_str().check("name", "x") == "x"
    with pytest.raises(ComponentTypeError):
        non_empty_str().check("name", b"x")
    with pytest.raises(ConfigError):
        non_empty_str().check("name", "")
    modes = one_of(("Lax", "Strict", None))
    assert modes.check("samesite", None) is None
    with pytest.raises(ConfigError, match="one of 'Lax', 'Strict' or None"):
        modes.check("samesite", "lax")


def test_composition_by_wrapping_and_readable_reprs() -> None:
    maybe = optional(conforms(Greeter, "a Greeter"))

    @attrs.frozen
    class Holder:
        greeter: Greeter | None = attrs.field(default=None, validator=maybe)

    assert Holder().greeter is None and Holder(English()).greeter is not None
    with pytest.raises(ComponentTypeError):
        Holder("nope")  # type: ignore[arg-type]
    assert repr(seconds(positive=True)) == (
        f"<seconds validator: a number of seconds > 0 and at most {MAX_SECONDS:g}>"
    )
    assert repr(in_range(1, 3)) == "<in_range validator: an int from 1 to 3>"
    assert repr(non_empty_str()) == "<non_empty_str validator>"
    assert "Greeter" in repr(maybe)
    assert seconds(positive=True) == seconds(positive=True)  # frozen values, comparable


def test_satisfies_checks_the_type_then_the_rule() -> None:
    word = satisfies(re.compile(r"[a-z]+").fullmatch, "lower-case letters")
    assert word.check("prefix", "abc") == "abc"
    with pytest.raises(ComponentTypeError, match="a str"):
        word.check("prefix", 5)
    with pytest.raises(ConfigError, match="lower-case letters") as info:
        word.check("prefix", "a b")
    assert info.value.option == "prefix"
    assert repr(word) == "<satisfies validator: lower-case letters>"
