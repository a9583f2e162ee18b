"""The session cookie: reading it from a ``Cookie`` header, building ``Set-Cookie`` values
(:class:`CookieSettings`, formatted by :class:`http.cookies.Morsel`), and the text-safe
encoding of cookie bytes (:func:`encode_value` / :func:`decode_value`, unpadded urlsafe
base64 with one canonical spelling per byte string).

Reading does not use :class:`http.cookies.SimpleCookie`: it gives up on the whole header at the
first cookie it cannot parse (``a={"x": 1}; session=...``), which would log a user out because
some other application on the domain set an unusual cookie. :func:`cookie_values` instead
splits the header on ``;`` and returns every value of the one cookie it is asked for, as
sent, less the optional pair of double quotes RFC 6265's grammar allows around a value (some
clients add them). There is no backslash unescaping: values this package issues are plain
tokens, so anything else fails verification like any other altered value.

When a header carries the session cookie several times (a stale cookie on a longer ``Path``
and the live one, or a hostile client with thousands), :func:`session_candidates` says which
values a request may try and in which order: last sent first, as Beaker (whose
``SimpleCookie`` keeps the last duplicate), at most :data:`MAX_SESSION_COOKIES` of them.

Imports only :mod:`beaker.errors`, :mod:`beaker.validators` and the standard library; must
not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import binascii
import datetime as dt
import re
from email.utils import formatdate
from http.cookies import CookieError, Morsel
from typing import Final, Literal

import attrs

from beaker.errors import ComponentTypeError, ConfigError, CookieTooLarge, DeserializationError
from beaker.validators import (
    checked_by,
    in_range,
    instance_of,
    one_of,
    optional,
    satisfies,
    seconds,
)

#: At most this many values of the session cookie are looked at per request, however many the
#: client sends, so one request costs at most this many store reads (and lock cycles).
MAX_SESSION_COOKIES: Final = 4
#: The limit browsers are required to honour for one cookie: name, value and attributes.
COOKIE_LIMIT: Final = 4096
#: Lifetime of a cookie configured to "never" expire (``cookie_expires=False``): 400 days,
#: the longest that current browsers keep a cookie.
FAR_FUTURE: Final = 400 * 24 * 3600

_B64: Final = re.compile(r"[A-Za-z0-9_-]*")
_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Unpadded base64 of n % 3 == 1 (or 2) bytes ends in a character carrying 4 (or 2) unused
# bits; a canonical encoding leaves them zero. Keyed by len(text) % 4.
_SPARE_BITS: Final = {2: 0b1111, 3: 0b11}
# Attribute values end up verbatim in a header: refuse separators and control characters.
_ATTRIBUTE: Final = re.compile(r"[\x21-\x3a\x3c-\x7e]+")
_SENTINEL: Final = "BEAKERSESSIONVALUE"
# binascii speaks standard base64; cookies use the urlsafe alphabet ('-' and '_' for '+', '/').
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE: Final = bytes.maketrans(b"-_", b"+/")

SameSite = Literal["Lax", "Strict", "None"]


def encode_value(data: bytes) -> str:
    """Encode bytes as cookie-safe text: urlsafe base64 without ``=`` padding."""
    # binascii directly: base64.urlsafe_b64encode is the same in three more Python calls.
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def decode_value(text: str) -> bytes:
    """Decode what :func:`encode_value` produced, accepting only its exact spelling.

    Raises:
        DeserializationError: ``text`` has characters outside the urlsafe base64 alphabet, an
            impossible length, or non-zero padding bits (a second spelling of the same bytes).
    """
    tail = len(text) % 4
    if tail == 1 or not _B64.fullmatch(text):
        raise DeserializationError("cookie value is not unpadded urlsafe base64")
    if tail and _ALPHABET.index(text[-1]) & _SPARE_BITS[tail]:
        raise DeserializationError("cookie value is not in canonical base64 form")
    try:  # the checks above leave binascii nothing to skip or guess
        return binascii.a2b_base64(text.encode().translate(_FROM_URLSAFE) + b"=="[: -tail % 4])
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - excluded by the checks
        raise DeserializationError(f"cookie value is not base64 ({exc})") from exc


def cookie_values(header: str | None, name: str) -> list[str]:
    """Every value of cookie ``name`` in a ``Cookie`` request header, in the order sent (a
    browser sends the cookie with the longest matching path first).

    Args:
        header: the header (WSGI ``environ["HTTP_COOKIE"]``), or ``None``.
        name: the cookie's name.
    """
    if not header or name not in header:
        return []
    values = []
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == '"' == value[-1]:
                value = value[1:-1]
            values.append(value)
    return values


def session_candidates(
    header: str | None, name: str, limit: int = MAX_SESSION_COOKIES
) -> list[str]:
    """The values of cookie ``name`` a request should try, best first: the last sent first
    (Beaker's rule, from ``http.cookies.SimpleCookie`` keeping the last duplicate), each
    distinct value once, at most ``limit`` of them. The caller takes the first that loads.

    Args:
        header: the ``Cookie`` request header, or ``None``.
        name: the session cookie's name.
        limit: how many values at most (``int`` >= 1).
    """
    values = cookie_values(header, name)
    if len(values) < 2:  # the usual request: nothing to order or drop
        return values
    chosen: list[str] = []
    for value in reversed(values):
        if value not in chosen:
            chosen.append(value)
            if len(chosen) == limit:
                break
    return chosen


def _legal_name(value: str) -> bool:
    probe: Morsel[str] = Morsel()
    try:
        probe.set(value, "", "")
    except CookieError:
        return False
    return True


def _legal_path(value: str) -> bool:
    return value.startswith("/") and _ATTRIBUTE.fullmatch(value) is not None


_NAME: Final = satisfies(_legal_name, "a legal cookie name")
_PATH: Final = satisfies(
    _legal_path, "a path starting with '/', printable ASCII without ' ' or ';'"
)
_DOMAIN: Final = satisfies(_ATTRIBUTE.fullmatch, "printable ASCII without spaces or ';'")
_BOOL: Final = instance_of(bool, "a bool")
_LIFETIME: Final = seconds(positive=True)


def check_path(value: str, option: str = "path") -> str:
    """Return ``value`` if it can be a cookie ``Path``.

    Raises:
        ComponentTypeError: not a ``str``.
        ConfigError: not starting with ``/``, or with spaces, ``;`` or control characters.
    """
    return _PATH.check(option, value)


def check_domain(value: str, option: str = "domain") -> str:
    """Return ``value`` if it can be a cookie ``Domain``.

    Raises:
        ComponentTypeError: not a ``str``.
        ConfigError: with spaces, ``;`` or control characters.
    """
    return _DOMAIN.check(option, value)


#: What a cookie's lifetime may be given as (see :attr:`CookieSettings.expires`).
Expires = bool | float | dt.timedelta | dt.datetime


def check_expires(value: object, option: str = "expires") -> Expires:
    """Return ``value`` if it can be a cookie lifetime (:attr:`CookieSettings.expires`).

    Raises:
        ComponentTypeError: not a ``bool``, seconds, a ``timedelta`` or a ``datetime``.
        ConfigError: seconds not > 0, or over :data:`~beaker.validators.MAX_SECONDS`.
    """
    if isinstance(value, (bool, dt.datetime)):
        return value
    length = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(length, bool) or not isinstance(length, (int, float)):
        raise ComponentTypeError(
            option, value, "a bool, seconds (int/float), a timedelta or a datetime"
        )
    _LIFETIME.check(option, length)
    return value  # type: ignore[return-value]


class _DateCache:
    """The last HTTP date formatted, per whole second: consecutive requests share it."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[int, str] = (0, formatdate(0, usegmt=True))

    def format(self, moment: int) -> str:
        last = self.last  # one read: safe while another thread replaces it
        if last[0] == moment:
            return last[1]
        text = formatdate(moment, usegmt=True)
        self.last = (moment, text)
        return text


@attrs.frozen
class CookieSettings:
    """How the session cookie is named, scoped and timed.

    Args:
        name: the cookie's name (``str``; Beaker's ``key``, default ``"beaker.session.id"``).
        path: its ``Path`` (``str``, default ``"/"``; Beaker's ``cookie_path``).
        domain: its ``Domain`` (``str`` or ``None`` for the request's host only; Beaker's
            ``cookie_domain``).
        secure: send ``Secure`` (``bool``, default ``False``): HTTPS only.
        httponly: send ``HttpOnly`` (``bool``, default ``True``; Beaker defaulted to
            ``False``): hidden from scripts.
        samesite: ``"Lax"`` (default), ``"Strict"``, ``"None"`` (needs ``secure``), or ``None``
            to leave the attribute out.
        expires: Beaker's ``cookie_expires``: ``True`` makes a browser-session cookie (no
            ``Expires``/``Max-Age``); ``False`` (default) lasts :data:`FAR_FUTURE` (400 days);
            seconds (``int``/``float`` > 0) or a ``timedelta`` last that long from each time
            the cookie is sent; a ``datetime`` (naive = UTC) is a fixed moment. Every cookie
            sent carries both ``Expires`` and ``Max-Age`` unless ``expires`` is ``True``.
        max_size: the largest ``Set-Cookie`` value allowed, in bytes (``int``, default 4096,
            the browser limit for name, value and attributes together).

    Raises:
        ComponentTypeError: an argument has the wrong type.
        ConfigError: an illegal cookie name, a path/domain with spaces, ``;`` or control
            characters, a path not starting with ``/``, an unknown ``samesite``,
            ``samesite="None"`` without ``secure`` (browsers reject it), a lifetime not
            > 0 (or over :data:`~beaker.validators.MAX_SECONDS`) or a ``max_size`` outside
            64..65536.
    """

    name: str = attrs.field(default="beaker.session.id", validator=_NAME)
    path: str = attrs.field(default="/", validator=_PATH)
    domain: str | None = attrs.field(default=None, validator=optional(_DOMAIN))
    secure: bool = attrs.field(default=False, validator=_BOOL)
    httponly: bool = attrs.field(default=True, validator=_BOOL)
    samesite: SameSite | None = attrs.field(
        default="Lax", validator=one_of(("Lax", "Strict", "None", None))
    )
    expires: Expires = attrs.field(default=False, validator=checked_by(check_expires))
    max_size: int = attrs.field(default=COOKIE_LIMIT, validator=in_range(64, 65536, unit="bytes"))
    # Set-Cookie text before and after the value, for the configured path and domain.
    _head: str = attrs.field(init=False, eq=False, repr=False)
    _tail: str = attrs.field(init=False, eq=False, repr=False)
    _dates: _DateCache = attrs.field(init=False, factory=lambda: _DateCache(), eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.samesite == "None" and not self.secure:
            raise ConfigError("samesite", "None", "secure=True as well (browsers require it)")
        head, tail = self._template(self.path, self.domain)
        object.__setattr__(self, "_head", head)
        object.__setattr__(self, "_tail", tail)

    def _template(self, path: str, domain: str | None) -> tuple[str, str]:
        morsel: Morsel[str] = Morsel()
        morsel.set(self.name, _SENTINEL, _SENTINEL)
        morsel["path"] = path
        if domain:
            morsel["domain"] = domain
        if self.secure:
            morsel["secure"] = True
        if self.httponly:
            morsel["httponly"] = True
        if self.samesite:
            morsel["samesite"] = self.samesite
        head, _, tail = morsel.OutputString().partition(_SENTINEL)
        return head, tail

    def lifetime(self, now: float, expires: Expires | None = None) -> float | None:
        """Seconds from ``now`` until the cookie should expire, or ``None`` for a
        browser-session cookie; ``expires`` (checked by the caller) overrides
        :attr:`expires`."""
        if expires is None:
            expires = self.expires
        if expires is True:
            return None
        if expires is False:
            return float(FAR_FUTURE)
        if isinstance(expires, dt.datetime):
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=dt.timezone.utc)
            return expires.timestamp() - now
        if isinstance(expires, dt.timedelta):
            return expires.total_seconds()
        return float(expires)

    def set_cookie(
        self,
        value: str,
        now: float,
        *,
        path: str | None = None,
        domain: str | None = None,
        expires: Expires | None = None,
    ) -> str:
        """The ``Set-Cookie`` header value that stores ``value`` in the browser.

        Args:
            value: the cookie value, already text-safe (from :func:`encode_value` or an id).
            now: the current time, seconds since the epoch (for ``Expires``).
            path: overrides :attr:`path` for this cookie (a session's ``path`` attribute).
            domain: overrides :attr:`domain` for this cookie (a session's ``domain``).
            expires: overrides :attr:`expires` for this cookie (a session's
                ``cookie_expires``), already checked by :func:`check_expires`.

        Raises:
            CookieTooLarge: the header value would exceed :attr:`max_size` bytes.
            ConfigError: an override ``path``/``domain`` is not a legal attribute value.
        """
        if path is None and domain is None:  # the usual cookie: the configured scope
            text = self._head + value + self._tail
        else:
            head, tail = self._parts(path, domain)
            text = head + value + tail
        if (self.expires if expires is None else expires) is not True:  # True: no lifetime
            seconds = max(0, int(self.lifetime(now, expires)))  # type: ignore[arg-type]
            text += f"; expires={self._dates.format(int(now) + seconds)}; Max-Age={seconds}"
        if len(text) > self.max_size:
            raise CookieTooLarge(len(text), self.max_size)
        return text

    def delete_cookie(self, *, path: str | None = None, domain: str | None = None) -> str:
        """The ``Set-Cookie`` header value that removes the cookie from the browser (same name,
        path and domain; empty value; ``Max-Age=0`` and an ``Expires`` in 1970)."""
        head, tail = self._parts(path, domain)
        return f"{head}{tail}; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"

    def _parts(self, path: str | None, domain: str | None) -> tuple[str, str]:
        if (path is None or path == self.path) and (domain is None or domain == self.domain):
            return self._head, self._tail
        if path is not None:
            check_path(path)
        if domain is not None:
            check_domain(domain)
        return self._template(path or self.path, domain or self.domain)
