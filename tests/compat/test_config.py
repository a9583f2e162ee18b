"""Configuration: Beaker's option coercion, prefixes and regions, compared with real Beaker
1.14.1 on the same inputs, and one clear ConfigError per bad option."""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beaker.compat.exceptions import (
    BackendNotProvided,
    InvalidCacheBackendError,
    UnknownBackendType,
)
from beaker.errors import ConfigError
from beaker.util import coerce_cache_params, coerce_session_params, parse_cache_config_options
from tests.compat import _real_beaker

CACHE_CASES = [
    {},
    {
        "cache.type": "file",
        "cache.data_dir": "/tmp/cache/data",
        "cache.lock_dir": "/tmp/cache/lock",
    },
    {"beaker.cache.type": "dbm", "beaker.cache.expire": "3600", "beaker.cache.enabled": "false"},
    {"cache.enabled": "yes", "cache.key_length": "100", "cache.url": "127.0.0.1:11211"},
    {"cache.expire": 60, "cache.enabled": True, "unrelated.option": "x", "session.type": "file"},
    {
        "cache.data_dir": "/tmp/cache/data",
        "cache.lock_dir": "/tmp/cache/lock",
        "cache.regions": "short_term, long_term",
        "cache.short_term.type": "ext:memcached",
        "cache.short_term.url": "127.0.0.1:11211",
        "cache.short_term.expire": "3600",
        "cache.long_term.type": "file",
        "cache.long_term.expire": "86400",
    },
    {
        "cache.regions": "default_term, second, short_term, long_term",
        "cache.type": "memory",
        "cache.second.expire": "1",
        "cache.short_term.expire": "60",
        "cache.default_term.expire": "300",
        "cache.long_term.expire": "3600",
    },
    {
        "cache.regions": "a,,b",
        "cache.expire": "5",
        "cache.key_length": "20",
        "cache.a.enabled": "off",
        "cache.b.key_length": "7",
        "cache.type": "ext:redis",
        "cache.url": "redis://127.0.0.1:6379/0",
    },
    {"cache.regions": ["x", "y"], "cache.x.expire": 10, "cache.memcache_module": "auto"},
]

SESSION_CASES = [
    {},
    {
        "type": "file",
        "data_dir": "/tmp/s",
        "lock_dir": "/tmp/l",
        "key": "mykey",
        "secret": "mysecret",
        "cookie_expires": "true",
    },
    {
        "cookie_expires": "false",
        "secure": "yes",
        "httponly": "on",
        "timeout": "300",
        "save_accessed_time": "true",
        "auto": "1",
        "webtest_varname": "session",
    },
    {"cookie_expires": "300"},
    {"cookie_expires": 300, "cookie_domain": ".example.com", "cookie_path": "/app"},
    {"cookie_expires": "1"},  # Beaker reads "1" as True (boolean words first)
    {"cookie_expires": dt.timedelta(hours=1), "data_serializer": "json"},
    {"cookie_expires": dt.datetime(2040, 1, 1, 12, 0), "validate_key": "v", "encrypt_key": "e"},
    {"type": "cookie", "validate_key": "v", "samesite": "Strict", "encrypt_nonce_bits": "128"},
    {"type": "ext:redis", "url": "redis://:p%23ss@127.0.0.1:6379/0", "cookie_on_exception": "x"},
]


def test_parse_cache_config_options_matches_beaker_114() -> None:
    theirs = _real_beaker.run(
        f"""
        from beaker.util import parse_cache_config_options
        cases = {CACHE_CASES!r}
        result = [parse_cache_config_options(dict(c)) for c in cases] + [
            parse_cache_config_options(dict(c), include_defaults=False)
            for c in cases if "cache.enabled" in c or "cache.regions" not in c]
        """
    )
    ours = [parse_cache_config_options(dict(c)) for c in CACHE_CASES] + [
        parse_cache_config_options(dict(c), include_defaults=False)
        for c in CACHE_CASES
        if "cache.enabled" in c or "cache.regions" not in c
    ]
    assert json.loads(json.dumps(_real_beaker.canon(ours))) == theirs


def test_coerce_session_params_matches_beaker_114() -> None:
    theirs = _real_beaker.run(
        f"""
        import datetime
        from datetime import timedelta
        dt = datetime
        from beaker.util import coerce_session_params
        result = [coerce_session_params(dict(c)) for c in {SESSION_CASES!r}]
        """
    )
    ours = [coerce_session_params(dict(c)) for c in SESSION_CASES]
    assert json.loads(json.dumps(_real_beaker.canon(ours))) == theirs


def test_coerce_cache_params_matches_beaker_114_for_pyramid_beaker_shapes() -> None:
    # pyramid_beaker passes None for options the settings do not have.
    cases = [
        {"regions": None, "type": "memory", "expire": "60", "enabled": True},
        {
            "data_dir": None,
            "lock_dir": None,
            "expire": 60,
            "enabled": True,
            "key_length": 250,
            "type": None,
            "url": None,
        },
    ]
    for case in cases:
        case_copy = dict(case)
        result = coerce_cache_params(case_copy)
        assert result is case_copy  # in place, like Beaker
    theirs = _real_beaker.run(
        f"""
        from beaker.util import coerce_cache_params
        result = [coerce_cache_params(dict(c)) for c in {cases[:1]!r}]
        """
    )
    assert (
        json.loads(json.dumps(_real_beaker.canon([coerce_cache_params(dict(cases[0]))]))) == theirs
    )
    # Where Beaker turns a missing type into the string 'None', we keep None (= memory).
    assert coerce_cache_params(dict(cases[1]))["type"] is None


def test_region_options_inherit_globals_and_are_removed_from_top_level() -> None:
    options = parse_cache_config_options(
        {
            "cache.type": "file",
            "cache.data_dir": "/d",
            "cache.lock_dir": "/l",
            "cache.expire": "10",
            "cache.regions": "fast, slow",
            "cache.fast.type": "memory",
            "cache.slow.expire": "600",
        }
    )
    assert options["cache_regions"] == {
        "fast": {
            "data_dir": "/d",
            "lock_dir": "/l",
            "type": "memory",
            "enabled": True,
            "expire": 10,
            "key_length": 250,
        },
        "slow": {
            "data_dir": "/d",
            "lock_dir": "/l",
            "type": "file",
            "enabled": True,
            "expire": 600,
            "key_length": 250,
        },
    }
    assert not any(key.startswith(("fast.", "slow.")) for key in options)
    assert "regions" not in options


def test_region_without_enabled_and_no_defaults_does_not_crash() -> None:
    # Beaker 1.14.1 raises KeyError('enabled') here; a region is enabled unless told otherwise.
    options = parse_cache_config_options({"cache.regions": "a"}, include_defaults=False)
    assert options["cache_regions"]["a"]["enabled"] is True


def test_paths_are_accepted_as_path_objects(tmp_path: pathlib.Path) -> None:
    options = parse_cache_config_options({"cache.data_dir": tmp_path})
    assert options["data_dir"] == str(tmp_path)


@pytest.mark.parametrize(
    ("config", "option", "value"),
    [
        ({"cache.expire": "soon"}, "cache.expire", "soon"),
        ({"cache.expire": "-5"}, "cache.expire", "-5"),
        ({"cache.expire": 1.5}, "cache.expire", 1.5),
        ({"beaker.cache.enabled": "maybe"}, "beaker.cache.enabled", "maybe"),
        ({"cache.key_length": "0"}, "cache.key_length", "0"),
        ({"cache.data_dir": ""}, "cache.data_dir", ""),
        ({"cache.lock_dir": "   "}, "cache.lock_dir", "   "),
        ({"cache.data_dir": 5}, "cache.data_dir", 5),
        ({"cache.regions": 7}, "cache.regions", 7),
        (
            {"cache.regions": "a", "cache.a.expire": "never"},
            "cache.a.expire",
            "never",
        ),
        (
            {"beaker.cache.regions": "a", "beaker.cache.a.enabled": "perhaps"},
            "beaker.cache.a.enabled",
            "perhaps",
        ),
    ],
)
def test_bad_cache_option_raises_one_config_error_naming_it(
    config: dict[str, object], option: str, value: object
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_cache_config_options(config)
    error = info.value
    assert error.option == option
    assert error.value == value
    assert error.expected
    assert option in str(error) and repr(value) in str(error)
    assert type(error).__name__ == "ConfigError"  # one plain error, not a group


def test_bad_options_are_also_what_beaker_raised() -> None:
    # Beaker raised a plain Exception for every bad option; ours is one too.
    with pytest.raises(Exception, match="expire"):
        coerce_cache_params({"expire": "x"})


def test_unknown_type_lists_the_known_types_and_is_a_type_error() -> None:
    with pytest.raises(UnknownBackendType) as info:
        parse_cache_config_options({"cache.type": "ext:cassandra"})
    assert isinstance(info.value, TypeError)  # what Beaker's Cache() raised
    assert isinstance(info.value, ConfigError)
    for name in ("memory", "file", "dbm", "ext:memcached", "ext:redis", "ext:sqla"):
        assert name in info.value.expected


@pytest.mark.parametrize("name", ["ext:mongodb", "ext:google"])
def test_not_provided_backends_say_so(name: str) -> None:
    with pytest.raises(BackendNotProvided) as info:
        parse_cache_config_options({"cache.type": name})
    assert isinstance(info.value, InvalidCacheBackendError)
    assert isinstance(info.value, ImportError)
    assert "does not provide" in str(info.value)
    with pytest.raises(BackendNotProvided):
        coerce_session_params({"type": name})


@pytest.mark.parametrize(
    ("params", "option"),
    [
        ({"cookie_expires": "tomorrow"}, "cookie_expires"),
        ({"cookie_expires": 0}, "cookie_expires"),  # Beaker accepted 0 and then failed later
        ({"cookie_expires": 1.5}, "cookie_expires"),
        ({"timeout": "ten"}, "timeout"),
        ({"secure": "sometimes"}, "secure"),
        ({"httponly": "2"}, "httponly"),
        ({"key": ""}, "key"),
        ({"secret": ""}, "secret"),
        ({"samesite": "Loose"}, "samesite"),
        ({"data_serializer": "yaml"}, "data_serializer"),
        ({"data_serializer": object()}, "data_serializer"),
        ({"type": "ext:nosuch"}, "type"),
        ({"invalidate_corrupt": "sure"}, "invalidate_corrupt"),
        ({"timeout": "60", "save_accessed_time": "false"}, "save_accessed_time"),
    ],
)
def test_bad_session_option_raises_one_config_error_naming_it(
    params: dict[str, object], option: str
) -> None:
    with pytest.raises(ConfigError) as info:
        coerce_session_params(dict(params))
    assert info.value.option == option


@pytest.mark.parametrize(
    "value",
    [10**11, 10**15, "99999999999999999", dt.timedelta(seconds=-1), dt.timedelta(days=10**6)],
)
def test_cookie_expires_out_of_range_is_refused_as_given_by_both_entry_points(
    value: object,
) -> None:
    """One rule (the native cookie's) for coerce_session_params and SessionMiddleware: the
    error names the value the application gave and says what is accepted (Beaker accepted
    10**11 and raised OverflowError for 10**15)."""
    from beaker.middleware import SessionMiddleware

    for build in (
        lambda: coerce_session_params({"cookie_expires": value}),
        lambda: SessionMiddleware(lambda e, s: [], {"session.cookie_expires": value}),
    ):
        with pytest.raises(ConfigError) as info:
            build()
        assert info.value.option.endswith("cookie_expires") and info.value.value == value
        assert "whole number of seconds from 1 to" in info.value.expected


def test_session_coercions_beyond_beaker() -> None:
    # Beaker leaves invalidate_corrupt uncoerced, so "false" was read as true; we coerce it.
    assert coerce_session_params({"invalidate_corrupt": "false"})["invalidate_corrupt"] is False
    # Beaker str()-ed a data_serializer object (then refused it); we keep the object.

    class Codec:
        def dumps(self, value: object) -> bytes:
            return b""

        def loads(self, data: bytes) -> object:
            return {}

    codec = Codec()
    assert coerce_session_params({"data_serializer": codec})["data_serializer"] is codec
    # SameSite spelled in any case becomes the canonical attribute value.
    assert coerce_session_params({"samesite": "strict"})["samesite"] == "Strict"
    assert coerce_session_params({"samesite": None})["samesite"] is None


def test_session_coerce_is_in_place_and_keeps_unknown_options() -> None:
    params = {"cookie_expires": "600", "cookie_on_exception": "true", "session_class": None}
    assert coerce_session_params(params) is params
    assert params == {
        "cookie_expires": dt.timedelta(seconds=600),
        "cookie_on_exception": "true",
        "session_class": None,
    }


# -- properties ---------------------------------------------------------------------------------


_OPTION_NAMES = st.sampled_from(
    [
        "type",
        "data_dir",
        "lock_dir",
        "url",
        "expire",
        "enabled",
        "regions",
        "key_length",
        "r1.expire",
        "r1.type",
        "unrelated",
    ]
)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["true", "off", "60", "memory", "file", "r1, r2"]),
    st.lists(st.text(max_size=3), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_OPTION_NAMES, _VALUES, max_size=6), st.booleans())
def test_parse_raises_only_config_errors_and_is_stable(
    raw: dict[str, object], include_defaults: bool
) -> None:
    config = {f"cache.{name}": value for name, value in raw.items()}
    try:
        options = parse_cache_config_options(config, include_defaults)
    except ConfigError as error:
        assert error.option.startswith("cache.")
        return
    # Coerced values coerce to themselves: parsing the result again changes nothing.
    regions = options.pop("cache_regions", None)
    again = coerce_cache_params(dict(options))
    assert again == options
    for region in (regions or {}).values():
        assert coerce_cache_params(dict(region)) == region


_SESSION_NAMES = st.sampled_from(
    [
        "cookie_expires",
        "timeout",
        "secure",
        "httponly",
        "auto",
        "samesite",
        "key",
        "secret",
        "save_accessed_time",
        "data_serializer",
        "invalidate_corrupt",
        "type",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_SESSION_NAMES, _VALUES, max_size=6))
def test_session_coercion_raises_only_config_errors_and_is_stable(raw: dict[str, object]) -> None:
    try:
        options = coerce_session_params(dict(raw))
    except ConfigError:
        return
    assert coerce_session_params(dict(options)) == options
