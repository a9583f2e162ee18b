"""Beaker's configuration options: coercion of INI strings, validation, prefixes and regions.

The options are described once, as the attrs classes :class:`CacheOptions` and
:class:`SessionOptions`; a ``cattrs`` converter structures an option dictionary into them,
turning INI strings into booleans, integers, lists and ``timedelta`` as Beaker does. The first
bad option raises one :class:`~beaker.errors.ConfigError` naming the option (with the prefix
the application used, e.g. ``"cache.short_term.expire"``), its value and what was expected.

The public functions keep Beaker's shapes, so applications and frameworks (pyramid_beaker,
Pylons, TurboGears) see the dictionaries they expect:

* :func:`coerce_cache_params` / :func:`coerce_session_params` coerce the options present in a
  dict in place and return it; unknown options pass through untouched.
* :func:`parse_cache_config_options` picks the ``cache.`` / ``beaker.cache.`` options, fills
  Beaker's defaults and builds ``cache_regions``.

Where Beaker accepted a value and then failed later or silently did something else (a
``cookie_expires`` of ``0``, an ``invalidate_corrupt`` of ``"false"`` read as true, a
``data_serializer`` object turned into its ``str``), this module either raises at once or does
what the option documents; the tests name each such case.

It also holds Beaker's ``clsmap`` (type name -> ``NamespaceManager`` class, third-party
ones from the ``beaker.backends`` entry points): the one list of type names the ``type``
option accepts.

Imports attrs, cattrs, the standard library, :mod:`beaker.errors` and
:mod:`beaker.compat.exceptions`; the namespace manager classes only when ``clsmap`` is first
used.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, Final, NewType

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ClassValidationError

from beaker.compat.exceptions import (
    BackendNotProvided,
    BeakerException,
    InvalidCacheBackendError,
    UnknownBackendType,
)
from beaker.errors import ConfigError

__all__ = [
    "CACHE_PREFIXES",
    "CACHE_TYPES",
    "DEFAULT_KEY_LENGTH",
    "NOT_PROVIDED_TYPES",
    "SESSION_TYPES",
    "CacheOptions",
    "HiddenBytes",
    "HiddenText",
    "SessionOptions",
    "asbool",
    "aslist",
    "cache_options",
    "coerce_cache_params",
    "coerce_session_params",
    "parse_cache_config_options",
    "prefixed",
    "session_options",
]

#: Beaker's default ``key_length``: decorator keys longer than this (with their namespace)
#: are replaced by their SHA-1 hex digest.
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
#: Session backend type names: the cache types plus ``cookie`` (data in the cookie itself).
SESSION_TYPES: Final = (*CACHE_TYPES, "cookie")
#: Beaker backend type names that exist in Beaker but are not provided here.
NOT_PROVIDED_TYPES: Final = ("ext:mongodb", "ext:google")

#: The largest number of seconds a ``timeout`` / ``expire`` may be (about 317 years): larger
#: ones would overflow a deadline (seconds since the epoch as a float) at request time.
MAX_SECONDS: Final = 10**10
#: The entry-point group third-party backends (``NamespaceManager`` classes) register in.
ENTRY_POINT_GROUP: Final = "beaker.backends"

_TRUE: Final = frozenset({"true", "yes", "on", "y", "t", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "n", "f", "0"})
_DIGITS: Final = re.compile(r"\d+")


class _Invalid(ValueError):
    """Raised by the structuring hooks; carries what was expected, in words."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


# -- value kinds (one cattrs hook each) ------------------------------------------------------

Text = NewType("Text", str)  # a non-blank str; paths (os.PathLike) become str
Secret = NewType("Secret", str)  # a non-blank str or bytes
Flag = NewType("Flag", bool)  # bool, 0/1, or an INI boolean word
Seconds = NewType("Seconds", int)  # int >= 0, or a string of digits
Positive = NewType("Positive", int)  # int > 0, or a string of digits
Url = NewType("Url", str)  # a non-blank str, or a ready redis client (Beaker's ext:redis)
Names = NewType("Names", list[str])  # a comma-separated string, list or tuple of names
CacheType = NewType("CacheType", str)
SessionType = NewType("SessionType", str)
CookieExpires = NewType("CookieExpires", object)  # bool | timedelta | datetime
SameSite = NewType("SameSite", str)
DataSerializer = NewType("DataSerializer", object)  # "pickle" | "json" | dumps/loads object


def _bool_word(value: str) -> bool | None:
    """``True``/``False`` for an INI boolean word (any case, blanks around it ignored), else
    ``None``."""
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None


def asbool(value: Any) -> bool:
    """Beaker's boolean coercion: ``true/yes/on/y/t/1`` and ``false/no/off/n/f/0`` (any case,
    surrounding blanks ignored) for strings, ``bool(value)`` for anything else.

    Raises:
        ValueError: a string that is none of those words.
    """
    if isinstance(value, str):
        flag = _bool_word(value)
        if flag is None:
            raise ValueError(f"String is not true/false: {value!r}")
        return flag
    return bool(value)


def aslist(value: Any, sep: str | None = None, strip: bool = True) -> list[Any]:
    """Beaker's list coercion: split a string on ``sep`` (whitespace by default), keep lists and
    tuples, ``None`` is ``[]``, anything else a list of one."""
    if isinstance(value, str):
        items = value.split(sep)
        return [item.strip() for item in items] if strip else items
    if isinstance(value, (list, tuple)):
        return value  # type: ignore[return-value]
    if value is None:
        return []
    return [value]


def _text(value: Any, _: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        if not value.strip():
            raise _Invalid("a non-empty string")
        return value
    raise _Invalid("a string")


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


def _secret(value: Any, _: Any) -> Any:
    if isinstance(value, (str, bytes)):
        if not value.strip():
            raise _Invalid("a non-empty string")
        return HiddenText(value) if isinstance(value, str) else HiddenBytes(value)
    raise _Invalid("a string")


def _url(value: Any, _: Any) -> Any:
    if isinstance(value, str):
        return _text(value, _)
    if hasattr(value, "connection_pool"):  # Beaker's ext:redis also takes a StrictRedis
        return value
    raise _Invalid("a URL string (or, for ext:redis, a redis.Redis client)")


def _flag(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    flag = _bool_word(value) if isinstance(value, str) else None
    if flag is None:
        raise _Invalid("true or false (or yes/no, on/off, 1/0)")
    return flag


def _whole(value: Any, minimum: int, expected: str, maximum: int | None = None) -> int:
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= minimum
        and (maximum is None or value <= maximum)
    ):
        return value
    raise _Invalid(expected)


def _seconds(value: Any, _: Any) -> int:
    return _whole(
        value, 0, f"a whole number of seconds from 0 to {MAX_SECONDS} (e.g. 3600)", MAX_SECONDS
    )


def _positive(value: Any, _: Any) -> int:
    return _whole(value, 1, "a whole number > 0")


def _names(value: Any, _: Any) -> list[str]:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",")]
    if isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value):
        return list(value)
    raise _Invalid("a comma-separated list of names (e.g. 'short_term, long_term')")


def _backend_type(value: Any, known: tuple[str, ...]) -> str:
    if isinstance(value, str):
        name = value.strip()
        if name in known:
            return name
        if name in NOT_PROVIDED_TYPES:
            raise _NotProvided(name)
    raise _Unknown(f"one of {', '.join(known)}")


class _Unknown(_Invalid):
    pass


class _NotProvided(_Invalid):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"a provided backend: {name!r} is a Beaker backend this package does not provide "
            f"(use one of {', '.join(CACHE_TYPES)})"
        )


class _ClassMap:
    """Beaker's ``clsmap``: backend type name -> ``NamespaceManager`` class, with the
    ``beaker.backends`` entry points loaded at the first unknown name (as Beaker does). The
    one list of type names: the option parser accepts exactly these (and ``cookie`` for
    sessions)."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}
        self._points: tuple[Any, ...] | None = None  # the entry points, read once (not loaded)
        self._loaded = False
        self._mutex = threading.Lock()

    def _ours(self) -> dict[str, type]:
        if not self._classes:
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
        return self._classes

    def entry_points(self) -> tuple[Any, ...]:
        """The ``beaker.backends`` entry points (read at the first call; :meth:`reload`
        reads them again)."""
        if self._points is None:
            self._points = tuple(entry_points(group=ENTRY_POINT_GROUP))
        return self._points

    def reload(self) -> None:
        """Read the entry points again at the next use (after installing a backend)."""
        self._points, self._loaded = None, False

    def names(self) -> tuple[str, ...]:
        """Every usable type name: ours (:data:`CACHE_TYPES`), then third-party ones (entry
        points and names added with ``clsmap[name] = cls``), sorted."""
        extra = {point.name for point in self.entry_points()} | set(self._ours())
        return (*CACHE_TYPES, *sorted(extra - set(CACHE_TYPES) - set(NOT_PROVIDED_TYPES)))

    def __getitem__(self, name: str) -> type:
        classes = self._ours()
        if name not in classes and not self._loaded:
            with self._mutex:
                if not self._loaded:
                    self._load()
                    self._loaded = True
        return classes[name]

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __setitem__(self, name: str, manager: type) -> None:
        self._ours()[name] = manager

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def _load(self) -> None:
        for point in self.entry_points():
            try:
                manager = point.load()
            except (InvalidCacheBackendError, SyntaxError):
                continue  # Beaker skips backends that say they cannot work here
            except Exception as exc:  # noqa: BLE001 - Beaker warns and goes on
                warnings.warn(
                    f"Unable to load NamespaceManager entry point {point.name!r}: {exc!r}",
                    RuntimeWarning,
                    stacklevel=4,
                )
                continue
            if point.name in self._classes:
                raise BeakerException(
                    f"NamespaceManager name conflict, {point.name!r} already loaded"
                )
            self._classes[point.name] = manager


#: Beaker's backend registry (``beaker.cache.clsmap``).
clsmap = _ClassMap()


def cache_types() -> tuple[str, ...]:
    """Every cache type name (see :meth:`_ClassMap.names`)."""
    return clsmap.names()


def _cache_type(value: Any, _: Any) -> str:
    return _backend_type(value, cache_types())


def _session_type(value: Any, _: Any) -> str:
    return _backend_type(value, (*cache_types(), "cookie"))


def _cookie_expires(value: Any, _: Any) -> bool | timedelta | datetime:
    if isinstance(value, (bool, timedelta, datetime)):
        return value
    flag = _bool_word(value) if isinstance(value, str) else None
    if flag is not None:
        return flag
    seconds = _whole(
        value,
        1,
        "true (browser-session cookie), false (no expiry), a number of seconds > 0, "
        "a timedelta or a datetime",
    )
    return timedelta(seconds=seconds)


def _samesite(value: Any, _: Any) -> str:
    if isinstance(value, str):
        for name in ("Strict", "Lax", "None"):
            if value.strip().lower() == name.lower():
                return name
    raise _Invalid("'Strict', 'Lax' or 'None' (the string), or None for no SameSite attribute")


def _data_serializer(value: Any, _: Any) -> Any:
    if isinstance(value, str):
        if value.strip() in ("pickle", "json"):
            return value.strip()
    elif callable(getattr(value, "dumps", None)) and callable(getattr(value, "loads", None)):
        return value
    raise _Invalid("'pickle', 'json' or an object with dumps() and loads()")


_converter = cattrs.Converter(detailed_validation=True)
for _kind, _hook in (
    (Text, _text),
    (Secret, _secret),
    (Url, _url),
    (Flag, _flag),
    (Seconds, _seconds),
    (Positive, _positive),
    (Names, _names),
    (CacheType, _cache_type),
    (SessionType, _session_type),
    (CookieExpires, _cookie_expires),
    (SameSite, _samesite),
    (DataSerializer, _data_serializer),
):
    _converter.register_structure_hook(_kind, _hook)


# -- the option classes ----------------------------------------------------------------------


def _frozen(value: Any) -> Any:
    """A hashable stand-in for an option value: lists, tuples and sets become tuples, dicts
    sorted item tuples; anything else must be hashable itself."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((str(key), _frozen(item)) for key, item in value.items()))
    hash(value)
    return value


#: Options that configure the cache front end, not a backend (never handed to one).
_FRONT_END: Final = frozenset({"expiretime", "starttime", "cache_regions", "log_file"})


@attrs.frozen
class CacheOptions:
    """Cache options after coercion (Beaker's ``cache.*`` options, prefix removed): frozen,
    hashable and compared by value, so they are what caches and backends are memoised by.

    Every field is ``None`` when the option was not given. Build one with
    :func:`cache_options`.

    Attributes:
        type: backend type name (one of :data:`CACHE_TYPES`, or a ``beaker.backends`` entry
            point's name).
        data_dir: directory of ``file``/``dbm`` data (``str``).
        lock_dir: directory of lock files (``str``).
        url: server address(es) of network backends (``str``; for ``ext:redis`` /
            ``ext:rediscluster`` also a ready client, as Beaker accepted). ``urls`` is
            ``ext:rediscluster``'s spelling of it.
        expire: seconds a cached value stays fresh (``int``).
        enabled: ``False`` makes regions and decorators call straight through (``bool``).
        regions: region names (``tuple[str, ...]``).
        key_length: decorator keys longer than this are SHA-1 hashed (``int`` > 0).
        memcache_module: accepted and ignored: pymemcache is always the client.
        backend_options: every other option, as ``(name, value)`` pairs sorted by name
            (Beaker's ``**nsargs``: ``table_name``, ``bind``, ``sa.*``, a third-party
            backend's own options …).
        prefix: how the application spelled the options' prefix (``"cache.short_term."``),
            for errors; not part of equality.
    """

    type: CacheType | None = None
    data_dir: Text | None = None
    lock_dir: Text | None = None
    url: Url | None = attrs.field(default=None, repr=lambda url: "None" if url is None else "'***'")
    expire: Seconds | None = None
    enabled: Flag | None = None
    regions: Names | None = attrs.field(default=None, converter=attrs.converters.optional(tuple))
    key_length: Positive | None = None
    memcache_module: Text | None = None
    backend_options: tuple[tuple[str, Any], ...] = attrs.field(
        default=(), hash=False, repr=lambda pairs: repr(tuple(name for name, _ in pairs))
    )
    prefix: str = attrs.field(default="", eq=False, repr=False)
    _fingerprint: Any = attrs.field(init=False, eq=False, repr=False, hash=True)

    def __attrs_post_init__(self) -> None:
        try:
            fingerprint = _frozen(self.backend_options)
        except TypeError:
            name, value = next(
                (name, value) for name, value in self.backend_options if not _hashable(value)
            )
            raise ConfigError(
                self.option(name), type(value).__name__, "a hashable value (or a list/dict)"
            ) from None
        object.__setattr__(self, "_fingerprint", fingerprint)

    def option(self, name: str) -> str:
        """``name`` as the application spelled it (``"cache.short_term.expire"``)."""
        return f"{self.prefix}{name}"

    def extra(self, name: str, default: Any = None) -> Any:
        """The backend option ``name`` (from :attr:`backend_options`), or ``default``."""
        for key, value in self.backend_options:
            if key == name:
                return value
        return default


def _hashable(value: Any) -> bool:
    try:
        _frozen(value)
    except TypeError:
        return False
    return True


@attrs.frozen
class SessionOptions:
    """Session options after coercion (Beaker's ``session.*`` options, prefix removed).

    Every field but ``samesite`` is ``None`` when the option was not given. Build one with
    :func:`session_options`. ``cookie_expires`` given in seconds becomes a ``timedelta``.
    The secrets are :class:`HiddenText` (or :class:`HiddenBytes`): their ``repr`` hides them.
    Hashable and compared by value, so it can key a memo of what is built from it.

    Attributes:
        type: backend type (one of :data:`SESSION_TYPES`); none means ``file`` when
            ``data_dir`` is set, else ``memory``.
        data_dir, lock_dir, url: as for caches.
        key: the cookie name. id: a session id to load.
        secret: signs the session-id cookie. validate_key, encrypt_key: sign / encrypt
            cookie-only sessions. encrypt_nonce_bits, crypto_type: accepted, not needed.
        cookie_expires: ``True``, ``False``, ``timedelta`` or ``datetime``.
        cookie_domain, cookie_path: cookie scope. secure, httponly: cookie flags.
        samesite: ``"Strict"``, ``"Lax"`` (the default) or ``"None"``; ``None`` for no
            ``SameSite`` attribute.
        timeout: idle seconds after which a session is replaced by a new one.
        save_accessed_time: ``False`` skips writes that would only bump the access time.
        auto: save on every access. invalidate_corrupt: corrupt data gives a new session.
        webtest_varname: name under which WebTest responses expose the session.
        data_serializer: ``"pickle"``, ``"json"`` or an object with ``dumps``/``loads``.
        backend_options: the other options, ``(name, value)`` pairs sorted by name, for the
            backend (Beaker's ``namespace_args``: ``sa.*``, ``table_name``, a third-party
            backend's own options).
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
    samesite: SameSite | None = SameSite("Lax")
    timeout: Seconds | None = None
    save_accessed_time: Flag | None = None
    auto: Flag | None = None
    invalidate_corrupt: Flag | None = None
    webtest_varname: Text | None = None
    data_serializer: DataSerializer | None = None
    memcache_module: Text | None = None
    backend_options: tuple[tuple[str, Any], ...] = ()


#: Beaker session options that go to neither the session nor its backend.
_NOT_BACKEND_OPTIONS: Final = frozenset(
    {"session_class", "log_file", "environ_key", "use_cookies", "cookie_on_exception"}
)

_CACHE_FIELDS: Final = frozenset(
    field.name for field in attrs.fields(CacheOptions) if field.init and field.name != "prefix"
) - {"backend_options"}
_SESSION_FIELDS: Final = frozenset(
    field.name for field in attrs.fields(SessionOptions) if field.name != "backend_options"
)


_Prefix = str | Callable[[str], str]


def _first_error(error: BaseException) -> tuple[str | None, BaseException]:
    """The attribute name and leaf exception of the first failure in a cattrs error tree."""
    name = None
    while isinstance(error, ClassValidationError):
        error = error.exceptions[0]
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            name = note.name
    return name, error


def _structure(
    cls: type[Any], fields: frozenset[str], params: Mapping[str, Any], prefix: _Prefix
) -> Any:
    known = {name: params[name] for name in fields if name in params}
    try:
        return _converter.structure(known, cls)
    except ClassValidationError as exc:
        name, leaf = _first_error(exc)
        name = name or "options"
        option = f"{prefix}{name}" if isinstance(prefix, str) else prefix(name)
        value = known.get(name)
        if isinstance(leaf, _NotProvided):
            raise BackendNotProvided(option, value, leaf.expected) from None
        if isinstance(leaf, _Unknown):
            raise UnknownBackendType(option, value, leaf.expected) from None
        expected = leaf.expected if isinstance(leaf, _Invalid) else str(leaf)
        raise ConfigError(option, value, expected) from None


def cache_options(params: Mapping[str, Any], prefix: str = "") -> CacheOptions:
    """Structure the cache options in ``params`` (prefix removed) into :class:`CacheOptions`.

    Args:
        params: option name -> value; unknown names are ignored.
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
    extras = sorted(
        (name, value)
        for name, value in params.items()
        if name not in _CACHE_FIELDS and name not in _FRONT_END and name != "urls"
    )
    return attrs.evolve(options, backend_options=tuple(extras), prefix=prefix)


def session_options(params: Mapping[str, Any], prefix: _Prefix = "") -> SessionOptions:
    """Structure the session options in ``params`` into :class:`SessionOptions`.

    Args:
        params: option name -> value (prefix removed); names that are not session options
            become ``backend_options``.
        prefix: put in front of option names in errors (e.g. ``"session."``), or a function
            giving the name as the application spelled it.

    Raises:
        ConfigError: naming the first bad option, its value and what was expected; also for
            ``timeout`` together with ``save_accessed_time = false`` (Beaker refuses it too).
    """
    options: SessionOptions = _structure(SessionOptions, _SESSION_FIELDS, params, prefix)
    if options.timeout is not None and options.save_accessed_time is False:
        raise ConfigError(
            f"{prefix}save_accessed_time"
            if isinstance(prefix, str)
            else prefix("save_accessed_time"),
            False,
            "true (the default) when a timeout is set: an idle timeout needs the access time",
        )
    extra = sorted(
        (item for item in params.items() if item[0] not in _SESSION_FIELDS | _NOT_BACKEND_OPTIONS),
        key=lambda item: item[0],
    )
    return attrs.evolve(options, backend_options=tuple(extra)) if extra else options


def _write_back(
    params: MutableMapping[str, Any], options: Any, fields: frozenset[str]
) -> MutableMapping[str, Any]:
    for name in fields:
        if name in params:
            value = getattr(options, name)
            params[name] = list(value) if isinstance(value, tuple) else value  # Beaker's lists
    return params


def coerce_cache_params(params: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Coerce and validate the cache options present in ``params``, in place (as Beaker's
    ``beaker.util.coerce_cache_params``); unknown options are left as they are.

    ``enabled`` becomes ``bool``, ``expire``/``key_length`` ``int``, ``regions`` a list of
    names (from ``"a, b"``).

    Returns:
        ``params`` itself.

    Raises:
        ConfigError: for the first bad option (see :func:`cache_options`).
    """
    return _write_back(params, cache_options(params), _CACHE_FIELDS)


def coerce_session_params(
    params: MutableMapping[str, Any], parsed: SessionOptions | None = None
) -> MutableMapping[str, Any]:
    """Coerce and validate the session options present in ``params``, in place (as Beaker's
    ``beaker.util.coerce_session_params``); unknown options are left as they are.

    Booleans from INI words, integers from digit strings, ``cookie_expires`` in seconds to a
    ``timedelta``.

    Args:
        params: the options (prefix removed).
        parsed: ``session_options(params)`` when the caller has it already.

    Returns:
        ``params`` itself.

    Raises:
        ConfigError: for the first bad option (see :func:`session_options`).
    """
    return _write_back(params, parsed or session_options(params), _SESSION_FIELDS)


#: How frameworks spell the cache options' names (``beaker.cache.expire``, ``cache.expire``).
CACHE_PREFIXES: Final = ("beaker.cache.", "cache.")


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


def parse_cache_config_options(
    config: Mapping[str, Any], include_defaults: bool = True
) -> dict[str, Any]:
    """Pick the cache options out of a framework's settings and validate them (Beaker's
    ``beaker.util.parse_cache_config_options``).

    Options named ``cache.X`` or ``beaker.cache.X`` become ``X``. With ``include_defaults``,
    Beaker's defaults are filled in: ``type='memory'``, ``data_dir=None``, ``expire=None``,
    ``log_file=None``, ``enabled=True``. ``regions = a, b`` becomes ``cache_regions =
    {'a': {...}, 'b': {...}}``: each region starts from the global ``data_dir``, ``lock_dir``,
    ``type``, ``enabled``, ``expire`` and ``key_length`` (default 250) and is overridden by its
    own ``cache.a.X`` options (which are removed from the top level).

    Args:
        config: settings (``str`` -> value; INI strings are coerced).
        include_defaults: fill Beaker's defaults (``bool``).

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

    def named(name: str) -> str:
        return spelled.get(name, f"cache.{name}")

    _write_back(options, _structure(CacheOptions, _CACHE_FIELDS, options, named), _CACHE_FIELDS)
    if include_defaults and "enabled" not in options:
        options["enabled"] = True

    regions = options.pop("regions", None)
    if regions:
        configured: dict[str, dict[str, Any]] = {}
        for region in regions:
            if not region:
                continue
            region_options: dict[str, Any] = {
                "data_dir": options.get("data_dir"),
                "lock_dir": options.get("lock_dir"),
                "type": options.get("type"),
                "enabled": options.get("enabled", True),
                "expire": options.get("expire"),
                "key_length": options.get("key_length", DEFAULT_KEY_LENGTH),
            }
            region_prefix = f"{region}."
            for key in [key for key in options if key.startswith(region_prefix)]:
                region_options[key[len(region_prefix) :]] = options.pop(key)

            def region_named(name: str, region_prefix: str = region_prefix) -> str:
                return named(f"{region_prefix}{name}")

            found = _structure(CacheOptions, _CACHE_FIELDS, region_options, region_named)
            _write_back(region_options, found, _CACHE_FIELDS)
            configured[region] = region_options
        options["cache_regions"] = configured
    return options
