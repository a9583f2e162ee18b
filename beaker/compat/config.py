"""Beaker's configuration options: INI-string coercion, validation, prefixes and regions.

The options are one table each, the attrs classes :class:`CacheOptions` and
:class:`SessionOptions`: every field's type is a value kind (``Flag``, ``Seconds`` …) that
carries its coercion, and one ``cattrs`` hook applies it. The first bad option raises one
:class:`~beaker.errors.ConfigError` naming the option as the application spelled it (e.g.
``"cache.short_term.expire"``), its value and what was expected. Where Beaker accepted a value
and failed later or misread it (a ``cookie_expires`` of ``0``, an ``invalidate_corrupt`` of
``"false"`` read as true), this module raises at once or does what the option documents.

It also holds Beaker's ``clsmap`` (type name -> ``NamespaceManager`` class, third-party ones
from the ``beaker.backends`` entry points): the one list of names ``type`` accepts.

Imports attrs, cattrs, :mod:`beaker.errors`, :mod:`beaker.validators`, the cookie rules of
:mod:`beaker.sessions.cookies`, the registry (its ``frozen_value`` and entry points) and
:mod:`beaker.compat.exceptions`; the namespace manager classes when ``clsmap`` is first used.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ClassValidationError

from beaker.compat.exceptions import (
    BackendNotProvided,
    InvalidCacheBackendError,
    UnknownBackendType,
)
from beaker.errors import ConfigError
from beaker.sessions.cookies import check_expires
from beaker.stores import registry
from beaker.validators import MAX_SECONDS

__all__ = [
    "CACHE_PREFIXES",
    "CACHE_TYPES",
    "DEFAULT_KEY_LENGTH",
    "NOT_PROVIDED_TYPES",
    "CacheOptions",
    "HiddenBytes",
    "HiddenText",
    "SessionOptions",
    "asbool",
    "aslist",
    "cache_options",
    "clsmap",
    "coerce_cache_params",
    "coerce_session_params",
    "parse_cache_config_options",
    "prefixed",
    "session_options",
]

#: Beaker's default ``key_length``: longer decorator keys (with their namespace) are SHA-1 hex.
DEFAULT_KEY_LENGTH: Final = 250
#: Cache backend type names this package provides.
CACHE_TYPES: Final = (
    "memory",
    "file",
    "dbm",
    "ext:memcached",
    "ext:database",
    "ext:sqla",
    "ext:redis",
    "ext:rediscluster",
)
#: Beaker backend type names that exist in Beaker but are not provided here.
NOT_PROVIDED_TYPES: Final = ("ext:mongodb", "ext:google")
#: How frameworks spell the cache options' names (``beaker.cache.expire``, ``cache.expire``).
CACHE_PREFIXES: Final = ("beaker.cache.", "cache.")

_WORDS: Final = {
    **dict.fromkeys(("true", "yes", "on", "y", "t", "1"), True),
    **dict.fromkeys(("false", "no", "off", "n", "f", "0"), False),
}
_DIGITS: Final = re.compile(r"\s*\d+\s*")


def asbool(value: Any) -> bool:
    """Beaker's boolean coercion: ``true/yes/on/y/t/1`` and ``false/no/off/n/f/0`` (any case,
    blanks around ignored) for strings, ``bool(value)`` for anything else.

    Raises:
        ValueError: a string that is none of those words.
    """
    if not isinstance(value, str):
        return bool(value)
    try:
        return _WORDS[value.strip().lower()]
    except KeyError:
        raise ValueError(f"String is not true/false: {value!r}") from None


def aslist(value: Any, sep: str | None = None, strip: bool = True) -> list[Any]:
    """Beaker's list coercion: split a string on ``sep`` (whitespace by default), keep lists and
    tuples, ``None`` is ``[]``, anything else a list of one."""
    if isinstance(value, str):
        items = value.split(sep)
        return [item.strip() for item in items] if strip else items
    if isinstance(value, (list, tuple)):
        return value  # type: ignore[return-value]
    return [] if value is None else [value]


class HiddenText(str):
    """A secret option's text: a ``str`` in every way but its ``repr``, so option dicts and
    option objects can be printed and logged without showing it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<secret>'"


class HiddenBytes(bytes):
    """A secret option given as ``bytes``: :class:`HiddenText`'s ``bytes`` twin."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "b'<secret>'"


class _Invalid(ValueError):
    """Raised by a value kind's coercion: what was expected, and the error class to raise."""

    def __init__(self, expected: str, error: type[ConfigError] = ConfigError) -> None:
        super().__init__(expected)
        self.expected, self.error = expected, error


# -- value kinds: ``Annotated[type, coercion]``; the coercion raises _Invalid ---------------


def _text(value: Any) -> str:
    value = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a non-empty string")
    return value


def _secret(value: Any) -> Any:
    if not isinstance(value, (str, bytes)) or not value.strip():
        raise _Invalid("a non-empty string")
    return HiddenText(value) if isinstance(value, str) else HiddenBytes(value)


def _url(value: Any) -> Any:
    if hasattr(value, "connection_pool"):  # Beaker's ext:redis also takes a StrictRedis
        return value
    if isinstance(value, str):
        return _text(value)
    raise _Invalid("a URL string (or, for ext:redis, a redis.Redis client)")


def _word(value: Any) -> bool | None:
    """An INI boolean word's ``bool`` (``None`` for anything else)."""
    return _WORDS.get(value.strip().lower()) if isinstance(value, str) else None


def _flag(value: Any) -> bool:
    if isinstance(value, int) and value in (0, 1):  # bool included
        return bool(value)
    flag = _word(value)
    if flag is None:
        raise _Invalid("true or false (or yes/no, on/off, 1/0)")
    return flag


def _whole(minimum: int, expected: str, maximum: int | None = None) -> Callable[[Any], int]:
    def coerce(value: Any) -> int:
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(expected)
        if value < minimum or (maximum is not None and value > maximum):
            raise _Invalid(expected)
        return value

    return coerce


_seconds = _whole(0, f"a whole number of seconds from 0 to {MAX_SECONDS} (e.g. 3600)", MAX_SECONDS)
_EXPIRES: Final = (
    "true (browser-session cookie), false (no expiry), a whole number of seconds from 1 to "
    f"{MAX_SECONDS}, a timedelta or a datetime"
)


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(","))
    if isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value):
        return tuple(value)
    raise _Invalid("a comma-separated list of names (e.g. 'short_term, long_term')")


def _backend_type(*extra: str) -> Callable[[Any], str]:
    def coerce(value: Any) -> str:
        name = value.strip() if isinstance(value, str) else value
        if name in NOT_PROVIDED_TYPES:
            raise _Invalid(
                f"a provided backend: {name!r} is a Beaker backend this package does not "
                f"provide (use one of {', '.join(CACHE_TYPES)})",
                BackendNotProvided,
            )
        if name in extra or (isinstance(name, str) and clsmap.get(name) is not None):
            return name
        raise _Invalid(f"one of {', '.join((*clsmap.names(), *extra))}", UnknownBackendType)

    return coerce


def _cookie_expires(value: Any) -> bool | timedelta | datetime:
    flag = _word(value)
    if flag is not None:
        return flag
    if isinstance(value, (bool, datetime)):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, (int, timedelta)):
        try:
            check_expires(value)  # the native rule (CookieSettings.expires): > 0, bounded
        except ConfigError:
            raise _Invalid(_EXPIRES) from None
        return value if isinstance(value, timedelta) else timedelta(seconds=value)
    raise _Invalid(_EXPIRES)


def _samesite(value: Any) -> str:
    name = value.strip().capitalize() if isinstance(value, str) else None
    if name not in ("Strict", "Lax", "None"):
        raise _Invalid("'Strict', 'Lax' or 'None' (the string), or None for no SameSite attribute")
    return name


def _data_serializer(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in ("pickle", "json"):
        return value.strip()
    if not isinstance(value, str) and all(
        callable(getattr(value, name, None)) for name in ("dumps", "loads")
    ):
        return value
    raise _Invalid("'pickle', 'json' or an object with dumps() and loads()")


Text = Annotated[str, _text]  # a non-blank str; paths (os.PathLike) become str
Secret = Annotated[str, _secret]  # a non-blank str or bytes, hidden from repr
Url = Annotated[str, _url]  # a non-blank str, or a ready redis client
Flag = Annotated[bool, _flag]  # bool, 0/1, or an INI boolean word
Seconds = Annotated[int, _seconds]  # 0 .. MAX_SECONDS, or a string of digits
Positive = Annotated[int, _whole(1, "a whole number > 0")]
Names = Annotated[tuple[str, ...], _names]  # "a, b", a list or a tuple of names
CacheType = Annotated[str, _backend_type()]
SessionType = Annotated[str, _backend_type("cookie")]
CookieExpires = Annotated[object, _cookie_expires]  # bool | timedelta | datetime
SameSite = Annotated[str, _samesite]
DataSerializer = Annotated[object, _data_serializer]  # "pickle" | "json" | dumps/loads

_converter = cattrs.Converter(detailed_validation=True)
_converter.register_structure_hook_func(
    lambda kind: hasattr(kind, "__metadata__"), lambda value, kind: kind.__metadata__[0](value)
)


# -- the option tables ------------------------------------------------------------------------


@attrs.frozen
class CacheOptions:
    """Cache options after coercion (Beaker's ``cache.*`` options, prefix removed; ``None``
    when not given): hashable and compared by value, so caches and backends are memoised by
    them. Build one with :func:`cache_options`.

    Attributes:
        type: backend type (:data:`CACHE_TYPES` or a ``beaker.backends`` entry point's name).
        data_dir, lock_dir: directories of ``file``/``dbm`` data and of lock files.
        url: server address(es) of network backends (for ``ext:redis`` / ``ext:rediscluster``
            also a ready client, as Beaker); ``urls`` is ``ext:rediscluster``'s spelling.
        expire: seconds a cached value stays fresh. enabled: ``False`` makes regions and
            decorators call straight through. regions: region names. key_length: decorator
            keys longer than this are SHA-1 hashed. memcache_module: accepted and ignored.
        backend_options: every other option as sorted ``(name, value)`` pairs (Beaker's
            ``**nsargs``: ``table_name``, ``bind``, ``sa.*``, a third-party backend's own).
        prefix: how the application spelled the prefix (``"cache.short_term."``), for errors.

    Raises:
        ConfigError: a backend option whose value is not hashable (nor a list/dict of such).
    """

    type: CacheType | None = None
    data_dir: Text | None = None
    lock_dir: Text | None = None
    url: Url | None = attrs.field(default=None, repr=lambda url: "None" if url is None else "'***'")
    expire: Seconds | None = None
    enabled: Flag | None = None
    regions: Names | None = None
    key_length: Positive | None = None
    memcache_module: Text | None = None
    backend_options: tuple[tuple[str, Any], ...] = attrs.field(
        default=(), hash=False, repr=lambda pairs: repr(tuple(name for name, _ in pairs))
    )
    prefix: str = attrs.field(default="", eq=False, repr=False)
    _fingerprint: Any = attrs.field(init=False, eq=False, repr=False, hash=True)

    def __attrs_post_init__(self) -> None:
        fingerprint = []
        for name, value in self.backend_options:
            try:
                fingerprint.append((name, registry.frozen_value(value)))
            except TypeError:
                expected = "a hashable value (or a list/dict)"
                raise ConfigError(self.option(name), type(value).__name__, expected) from None
        object.__setattr__(self, "_fingerprint", tuple(fingerprint))

    def option(self, name: str) -> str:
        """``name`` as the application spelled it (``"cache.short_term.expire"``)."""
        return f"{self.prefix}{name}"

    def extra(self, name: str, default: Any = None) -> Any:
        """The backend option ``name`` (from :attr:`backend_options`), or ``default``."""
        return next((value for key, value in self.backend_options if key == name), default)


@attrs.frozen
class SessionOptions:
    """Session options after coercion (Beaker's ``session.*`` options, prefix removed; ``None``
    when not given, ``samesite`` defaults to ``"Lax"``); hashable and compared by value. Build
    one with :func:`session_options`. ``cookie_expires`` in seconds becomes a ``timedelta``;
    secrets are :class:`HiddenText` / :class:`HiddenBytes`.

    Attributes:
        type: a cache type or ``cookie`` (none: ``file`` with a ``data_dir``, else
            ``memory``). data_dir, lock_dir, url: as for caches. key: the cookie name. id: a
            session id to load. secret: signs the id cookie. validate_key, encrypt_key: sign /
            encrypt cookie-only sessions. encrypt_nonce_bits, crypto_type: accepted, unused.
        cookie_expires: ``True``, ``False``, ``timedelta`` or ``datetime``. cookie_domain,
            cookie_path, secure, httponly, samesite: the cookie's scope and flags.
        timeout: idle seconds before a session is replaced. save_accessed_time: ``False``
            skips writes that would only bump the access time. auto: save on every access.
            invalidate_corrupt: corrupt data gives a new session. webtest_varname: the name
            WebTest responses expose the session under. data_serializer: ``"pickle"``,
            ``"json"`` or an object with ``dumps``/``loads``. urls: ``ext:rediscluster``'s
            spelling of ``url``. memcache_module: accepted and ignored.
        backend_options: the other options, sorted ``(name, value)`` pairs, for the backend
            as given (Beaker's ``**namespace_args``: options only caches read, such as
            ``expire``, are not checked here).
        store: the server-side store's :class:`CacheOptions`, made from the fields above
            (not parsed again; ``type`` resolved), or ``None`` for ``type = cookie``.
    """

    type: SessionType | None = None
    data_dir: Text | None = None
    lock_dir: Text | None = None
    url: Url | None = None
    key: Text | None = None
    id: Text | None = None
    secret: Secret | None = None
    validate_key: Secret | None = None
    encrypt_key: Secret | None = None
    encrypt_nonce_bits: Positive | None = None
    crypto_type: Text | None = None
    cookie_expires: CookieExpires | None = None
    cookie_domain: Text | None = None
    cookie_path: Text | None = None
    secure: Flag | None = None
    httponly: Flag | None = None
    samesite: SameSite | None = "Lax"
    timeout: Seconds | None = None
    save_accessed_time: Flag | None = None
    auto: Flag | None = None
    invalidate_corrupt: Flag | None = None
    webtest_varname: Text | None = None
    data_serializer: DataSerializer | None = None
    memcache_module: Text | None = None
    urls: Url | None = None
    backend_options: tuple[tuple[str, Any], ...] = ()
    store: CacheOptions | None = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        store = None
        if self.type != "cookie":
            store = CacheOptions(
                type=self.type or ("file" if self.data_dir else "memory"),
                data_dir=self.data_dir,
                lock_dir=self.lock_dir,
                url=self.urls if self.url is None else self.url,
                memcache_module=self.memcache_module,
                backend_options=self.backend_options,
            )
        object.__setattr__(self, "store", store)


def _fields(cls: type[Any]) -> frozenset[str]:
    return frozenset(f.name for f in attrs.fields(cls) if f.init) - {"backend_options", "prefix"}


_CACHE_FIELDS: Final = _fields(CacheOptions)
_SESSION_FIELDS: Final = _fields(SessionOptions)
#: Options of the cache front end, never handed to a backend.
_FRONT_END: Final = frozenset({"expiretime", "starttime", "cache_regions", "log_file", "urls"})
#: Beaker session options that go to neither the session nor its backend.
_NOT_BACKEND: Final = frozenset(
    {"session_class", "log_file", "environ_key", "use_cookies", "cookie_on_exception"}
)

_Prefix = str | Callable[[str], str]


def _spelled(prefix: _Prefix, name: str) -> str:
    return prefix(name) if callable(prefix) else f"{prefix}{name}"


def _structure(
    cls: type[Any], fields: frozenset[str], params: Mapping[str, Any], prefix: _Prefix
) -> Any:
    known = {name: params[name] for name in fields if name in params}
    try:
        return _converter.structure(known, cls)
    except ClassValidationError as exc:
        leaf: BaseException = exc
        while isinstance(leaf, ClassValidationError):
            leaf = leaf.exceptions[0]
        notes = getattr(leaf, "__notes__", ())
        name = next((n.name for n in notes if isinstance(n, AttributeValidationNote)), "options")
        option = _spelled(prefix, name)
        invalid = leaf if isinstance(leaf, _Invalid) else _Invalid(str(leaf))
        raise invalid.error(option, known.get(name), invalid.expected) from None


def _extras(params: Mapping[str, Any], skip: frozenset[str]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(((k, v) for k, v in params.items() if k not in skip), key=lambda i: i[0]))


def cache_options(params: Mapping[str, Any], prefix: str = "") -> CacheOptions:
    """Structure the cache options in ``params`` (prefix removed) into :class:`CacheOptions`.

    Args:
        params: option name -> value; other names become ``backend_options``.
        prefix: put in front of option names in errors (e.g. ``"cache."``).

    Raises:
        ConfigError: naming the first bad option, its value and what was expected
            (:class:`~beaker.compat.exceptions.UnknownBackendType` for an unknown ``type``,
            :class:`~beaker.compat.exceptions.BackendNotProvided` for ``ext:mongodb`` /
            ``ext:google``).
    """
    if "urls" in params and "url" not in params:  # ext:rediscluster's spelling
        params = {**params, "url": params["urls"]}
    options: CacheOptions = _structure(CacheOptions, _CACHE_FIELDS, params, prefix)
    extras = _extras(params, _CACHE_FIELDS | _FRONT_END)
    return attrs.evolve(options, backend_options=extras, prefix=prefix)


def session_options(params: Mapping[str, Any], prefix: _Prefix = "") -> SessionOptions:
    """Structure the session options in ``params`` (prefix removed) into
    :class:`SessionOptions`; other names become ``backend_options``, and with the store's own
    options the server-side store's :class:`CacheOptions` (``store``).

    Args:
        prefix: put in front of option names in errors (e.g. ``"session."``), or a function
            giving the name as the application spelled it.

    Raises:
        ConfigError: naming the first bad option, its value and what was expected; also for
            ``timeout`` together with ``save_accessed_time = false`` (Beaker refuses it too),
            and for a backend option whose value is not hashable (nor a list/dict of such).
    """
    options: SessionOptions = _structure(SessionOptions, _SESSION_FIELDS, params, prefix)
    if options.timeout is not None and options.save_accessed_time is False:
        raise ConfigError(
            _spelled(prefix, "save_accessed_time"),
            False,
            "true (the default) when a timeout is set: an idle timeout needs the access time",
        )
    extras = _extras(params, _SESSION_FIELDS | _NOT_BACKEND)
    try:
        return attrs.evolve(options, backend_options=extras) if extras else options
    except ConfigError as exc:  # the store's: a backend option that is not hashable
        raise type(exc)(_spelled(prefix, exc.option), exc.value, exc.expected) from None


def _write_back(
    params: MutableMapping[str, Any], options: Any, fields: frozenset[str]
) -> MutableMapping[str, Any]:
    for name in fields & params.keys():
        value = getattr(options, name)
        params[name] = list(value) if isinstance(value, tuple) else value  # Beaker's lists
    return params


def coerce_cache_params(params: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Coerce and validate the cache options present in ``params``, in place, and return it
    (Beaker's ``beaker.util.coerce_cache_params``); unknown options are left as they are.

    Raises:
        ConfigError: for the first bad option (see :func:`cache_options`).
    """
    return _write_back(params, cache_options(params), _CACHE_FIELDS)


def coerce_session_params(
    params: MutableMapping[str, Any], parsed: SessionOptions | None = None
) -> MutableMapping[str, Any]:
    """Coerce and validate the session options present in ``params``, in place, and return it
    (Beaker's ``beaker.util.coerce_session_params``); unknown options are left as they are.

    Args:
        parsed: ``session_options(params)`` when the caller has it already.

    Raises:
        ConfigError: for the first bad option (see :func:`session_options`).
    """
    return _write_back(params, parsed or session_options(params), _SESSION_FIELDS)


def prefixed(
    config: Mapping[Any, Any], prefixes: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The options of ``config`` named with one of ``prefixes`` (the first that matches is
    removed), and each option's name as spelled there, for errors.

    Returns:
        ``(options, spelled)``: option name -> value, option name -> the key it came from.
    """
    options: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in config.items():
        prefix = next((p for p in prefixes if isinstance(key, str) and key.startswith(p)), None)
        if prefix is not None:
            options[key[len(prefix) :]] = value
            spelled[key[len(prefix) :]] = key
    return options, spelled


#: The global options each region inherits, with their defaults.
_REGION_DEFAULTS: Final = {
    "data_dir": None,
    "lock_dir": None,
    "type": None,
    "enabled": True,
    "expire": None,
    "key_length": DEFAULT_KEY_LENGTH,
}


def parse_cache_config_options(
    config: Mapping[str, Any], include_defaults: bool = True
) -> dict[str, Any]:
    """Pick the cache options out of a framework's settings and validate them (Beaker's
    ``beaker.util.parse_cache_config_options``).

    ``cache.X`` and ``beaker.cache.X`` become ``X``. With ``include_defaults``, Beaker's
    defaults are filled in (``type='memory'``, ``data_dir=None``, ``expire=None``,
    ``log_file=None``, ``enabled=True``). ``regions = a, b`` becomes ``cache_regions =
    {'a': {...}, 'b': {...}}``: each region starts from the global ``data_dir``, ``lock_dir``,
    ``type``, ``enabled``, ``expire`` and ``key_length`` (default 250), overridden by its own
    ``cache.a.X`` options (which are removed from the top level).

    Returns:
        A new ``dict`` fit for ``CacheManager(**options)``.

    Raises:
        ConfigError: naming the first bad option as the application spelled it
            (e.g. ``"cache.short_term.expire"``).
    """
    options: dict[str, Any] = (
        {"type": "memory", "data_dir": None, "expire": None, "log_file": None}
        if include_defaults
        else {}
    )
    found, spelled = prefixed(config, CACHE_PREFIXES)
    options.update(found)

    def check(params: dict[str, Any], region: str = "") -> None:
        def named(name: str) -> str:
            return spelled.get(region + name, f"cache.{region}{name}")

        _write_back(params, _structure(CacheOptions, _CACHE_FIELDS, params, named), _CACHE_FIELDS)

    check(options)
    if include_defaults:
        options.setdefault("enabled", True)
    names = options.pop("regions", None)
    regions: dict[str, dict[str, Any]] = {}
    for region in names or ():
        if region:
            start = f"{region}."
            regions[region] = {name: options.get(name, v) for name, v in _REGION_DEFAULTS.items()}
            for key in [key for key in options if key.startswith(start)]:
                regions[region][key[len(start) :]] = options.pop(key)
            check(regions[region], start)
    if names:
        options["cache_regions"] = regions
    return options


# -- clsmap ------------------------------------------------------------------------------------


class _ClassMap:
    """Beaker's ``clsmap``: backend type name -> ``NamespaceManager`` class, held in
    ``_clsmap`` as in Beaker (extension code adds one with ``clsmap._clsmap[name] = cls``).
    Ours are filled in at first use; the ``beaker.backends`` entry points are loaded at the
    first unknown name by :func:`~beaker.stores.registry.load_plugins` with Beaker's rules:
    one raising ``InvalidCacheBackendError`` or ``SyntaxError`` is left out, one failing
    otherwise or clashing with a known name is left out with a ``RuntimeWarning``."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}
        self._filled = self._loaded = False
        self._mutex = threading.Lock()

    @property
    def _clsmap(self) -> dict[str, type]:
        if not self._filled:
            from beaker.compat import container, ext

            for name, manager in (
                ("memory", container.MemoryNamespaceManager),
                ("dbm", container.DBMNamespaceManager),
                ("file", container.FileNamespaceManager),
                ("ext:memcached", ext.MemcachedNamespaceManager),
                ("ext:database", ext.DatabaseNamespaceManager),
                ("ext:sqla", ext.SqlaNamespaceManager),
                ("ext:google", ext.GoogleNamespaceManager),
                ("ext:mongodb", ext.MongoNamespaceManager),
                ("ext:redis", ext.RedisNamespaceManager),
                ("ext:rediscluster", ext.RedisClusterNamespaceManager),
            ):
                self._classes.setdefault(name, manager)
            self._filled = True
        return self._classes

    def reload(self) -> None:
        """Read the entry points again at the next unknown name (after installing a backend)."""
        registry.rescan()
        self._loaded = False

    def names(self) -> tuple[str, ...]:
        """Every usable type name: :data:`CACHE_TYPES`, then the others loaded, sorted."""
        extra = set(self._clsmap).difference(CACHE_TYPES, NOT_PROVIDED_TYPES)
        return (*CACHE_TYPES, *sorted(extra))

    def __getitem__(self, name: str) -> type:
        classes = self._clsmap
        if name not in classes and not self._loaded:
            with self._mutex:
                if not self._loaded:
                    skip = (InvalidCacheBackendError, SyntaxError)
                    classes.update(registry.load_plugins(taken=classes, skip=skip, warn=True))
                    self._loaded = True
        return classes[name]

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


#: Beaker's backend registry (``beaker.cache.clsmap``).
clsmap = _ClassMap()
