"""The session a request sees: :class:`Session`, a lazily loaded dict of one browser's data
plus its id, times and life-cycle operations.

A ``Session`` is runtime state for one request, so unlike the configuration around it it is
mutable. It reads nothing until first touched (any dict operation or attribute but
:attr:`Session.loaded`), writes only when asked to (``save()``, ``auto``, or an access-time
refresh), and is settled once, by :meth:`Session.finish`, which the middleware calls when the
application starts its response.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from beaker.errors import DeserializationError, LockError, SessionConflict, SessionError
from beaker.locks.base import Lease
from beaker.sessions.changes import changes, merge
from beaker.sessions.cookies import (
    Expires,
    check_domain,
    check_expires,
    check_path,
    session_candidates,
)
from beaker.sessions.store import Loaded, SessionBackend, SessionRecord

if TYPE_CHECKING:
    from beaker.sessions.factory import Sessions

log = logging.getLogger("beaker.sessions")

#: Seconds a save keeps merging into newer stored versions (other requests saving the session
#: meanwhile) before it raises SessionConflict; it never writes over their saves.
_SAVE_BUDGET = 10.0
#: The longest pause (seconds) between two attempts of a contended save: after two prompt
#: retries, pauses start at 8 ms and double up to it, with full jitter.
_MAX_PAUSE = 0.05
#: ``_base_version`` when this request wrote the base itself (its version must be re-read).
_REREAD = object()

# Values that cannot change without the session seeing a __setitem__.
_IMMUTABLE = frozenset({str, int, float, bool, bytes, type(None)})


def _flat(data: dict[str, Any]) -> bool:
    """Whether no value of ``data`` can be mutated in place (only scalars)."""
    for value in data.values():
        if type(value) not in _IMMUTABLE:
            return False
    return True


class Session(MutableMapping[str, Any]):
    """One browser's session within one request: a ``dict`` of data with an id.

    Build one with :meth:`Sessions.open <beaker.sessions.factory.Sessions.open>` (the
    middleware does) rather than directly.

    Saving follows Beaker: changes are written only when :meth:`save` is called (or the
    configuration sets ``auto``), at the end of the request; :meth:`persist` writes at once.
    With an idle ``timeout`` the access time is refreshed on every request that touches the
    session (``save_accessed_time``), writing the data as it was loaded, not unsaved changes.

    Concurrent requests of one browser lose no writes: on a
    :class:`~beaker.stores.base.VersionedStore` a save is a compare-and-set against the
    version this request loaded; if another request saved since, this request's changes (keys
    set or deleted, values changed in place) are merged into the newer version
    (:mod:`beaker.sessions.changes`) and the save retried. A key both changed takes this
    request's value, with a debug log; a session another request removed is not brought back.
    An access-time refresh loses to any newer save. On a store without versions a save
    overwrites, as in Beaker.

    When the ``Cookie`` header names the session several times, at most four values are
    tried, the last sent first (Beaker's rule), and the first that loads wins.

    Not thread-safe: one request, one thread.
    """

    __slots__ = (
        "_accessed",
        "_backend",
        "_base",
        "_base_version",
        "_browser_value",
        "_cookie_header",
        "_cookie_out",
        "_created",
        "_data",
        "_domain",
        "_expires",
        "_finished",
        "_id",
        "_is_new",
        "_last_accessed",
        "_lease",
        "_loaded",
        "_loaded_id",
        "_original",
        "_path",
        "_persisted",
        "_rescoped",
        "_retired",
        "_save",
        "_sealed",
        "_sessions",
        "_stale_cookie",
        "_touched",
        "_version",
    )

    _accessed: float
    _backend: SessionBackend
    _base: SessionRecord | None
    _base_version: object
    _browser_value: str | None
    _cookie_header: str | None
    _cookie_out: str | None
    _created: float
    _data: dict[str, Any]
    _domain: str | None
    _expires: Expires | None
    _finished: bool
    _id: str
    _is_new: bool
    _last_accessed: float | None
    _lease: Lease | None
    _loaded: bool
    _loaded_id: str | None
    _original: SessionRecord | None
    _path: str | None
    _persisted: bool
    _rescoped: bool
    _retired: list[str]
    _save: bool
    _sessions: Sessions
    _sealed: tuple[int, str] | None
    _stale_cookie: bool
    _touched: set[str]
    _version: int

    def __init__(
        self,
        sessions: Sessions,
        cookie_header: str | None,
        backend: SessionBackend | None = None,
    ) -> None:
        """Args:
        sessions: the configuration this session follows.
        cookie_header: the request's ``Cookie`` header (``None`` if absent); parsed only
            when the session is first touched.
        backend: where this session reads and writes (default ``sessions.backend``); the
            ASGI middleware passes one holding the request's awaited I/O.
        """
        self._sessions = sessions
        self._backend = sessions.backend if backend is None else backend
        self._cookie_header = cookie_header
        self._loaded = False
        self._finished = False
        self._lease = None

    # ----------------------------------------------------------------- loading

    @property
    def loaded(self) -> bool:
        """Whether the session has been touched (read) in this request; never loads it."""
        return self._loaded

    def _load(self, session_id: str | None = None) -> None:
        """Load from the cookie header, or (``session_id``) from storage by a trusted id."""
        if self._finished:
            raise SessionError("this request's session is finished; it can no longer be used")
        sessions = self._sessions
        backend = self._backend
        now = sessions.clock()
        self._domain = None
        self._path = None
        self._expires = None
        self._save = False
        self._persisted = False
        self._rescoped = False
        self._browser_value = None
        self._cookie_out = None
        self._retired = []
        self._stale_cookie = False
        self._version = 0
        self._sealed = None
        self._touched = set()
        found: Loaded | None = None
        values = session_candidates(self._cookie_header, sessions.cookie.name)
        if session_id is not None:
            if sessions.lock_requests:
                self._acquire(session_id)
            found = self._read(backend.read_id, session_id)
        elif values:
            before = self._acquire if sessions.lock_requests else None
            for value in values:
                found = self._read(backend.read, value, before)
                if found is not None:
                    if backend.server_side:  # the id cookie the browser holds
                        self._browser_value = value
                    break
                self._release()
            else:
                self._stale_cookie = True
        if found is not None and sessions.expired(found.record, now):
            log.info("session %s… expired; starting a new one", found.record.id[:8])
            self._retired.append(found.record.id)
            self._stale_cookie = True
            found = None
        self._loaded = True
        if found is None:
            self._start(now)
            self._original = self._base = None
            self._loaded_id = None
            return
        record, self._data, self._base_version = found
        self._original = self._base = record
        self._loaded_id = self._id = record.id
        self._created = record.created
        self._accessed = now
        self._last_accessed = record.accessed
        self._is_new = False

    def _read(self, read: Callable[..., Loaded | None], *args: Any) -> Loaded | None:
        """Run a backend read, applying ``invalidate_corrupt`` to a corrupt record."""
        try:
            return read(*args)
        except DeserializationError as exc:
            if not self._sessions.invalidate_corrupt:
                self._release()
                raise
            log.warning("corrupt session record replaced by a new session: %s", exc)
            return None

    def _start(self, now: float) -> None:
        self._id = self._backend.ids.new()
        self._created = now
        self._accessed = now
        self._last_accessed = None
        self._is_new = True
        self._data = {}

    def _acquire(self, session_id: str) -> None:
        if self._lease is None:
            self._lease = self._backend.acquire(session_id, self._sessions.lock_timeout)

    def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.release()

    def _ready(self) -> dict[str, Any]:
        if not self._loaded:
            self._load()
        return self._data

    def _now_loaded(self) -> Session:
        """This session, loaded on first use (the attributes below read it)."""
        self._ready()
        return self

    # -------------------------------------------------------------- attributes

    @property
    def id(self) -> str:
        """The session id (hex). Changes on :meth:`regenerate_id`, :meth:`invalidate` and
        :meth:`delete`."""
        return self._now_loaded()._id

    @property
    def created(self) -> float:
        """When the session was created, seconds since the epoch (Beaker's ``_creation_time``)."""
        return self._now_loaded()._created

    @property
    def accessed(self) -> float:
        """When this request loaded the session, seconds since the epoch (Beaker's
        ``_accessed_time``)."""
        return self._now_loaded()._accessed

    @property
    def last_accessed(self) -> float | None:
        """The access time before this request's, or ``None`` for a new session (Beaker's
        ``last_accessed``)."""
        return self._now_loaded()._last_accessed

    @property
    def is_new(self) -> bool:
        """Whether no stored session was found for this request (or it was invalidated)."""
        return self._now_loaded()._is_new

    @property
    def domain(self) -> str | None:
        """The cookie ``Domain`` for this session's cookies (``None``: the configured one).
        Settable, as Beaker's ``session.domain``; a value with spaces, ``;`` or control
        characters raises :class:`~beaker.errors.ConfigError`."""
        self._ready()
        return self._domain or self._sessions.cookie.domain

    @domain.setter
    def domain(self, value: str | None) -> None:
        self._override("_domain", None if value is None else check_domain(value))

    @property
    def path(self) -> str:
        """The cookie ``Path`` for this session's cookies. Settable, as Beaker's
        ``session.path``; it must start with ``/`` (else :class:`~beaker.errors.ConfigError`)."""
        self._ready()
        return self._path or self._sessions.cookie.path

    @path.setter
    def path(self, value: str | None) -> None:
        self._override("_path", None if value is None else check_path(value))

    @property
    def cookie_expires(self) -> Expires:
        """The lifetime of this session's cookies (``None`` set: the configured
        :attr:`CookieSettings.expires <beaker.sessions.cookies.CookieSettings.expires>`).
        Settable, as Beaker's ``session.cookie_expires``: ``True`` for a browser-session
        cookie, seconds, a ``timedelta`` or a ``datetime``; anything else raises
        :class:`~beaker.errors.ConfigError` or :class:`~beaker.errors.ComponentTypeError`."""
        self._ready()
        return self._sessions.cookie.expires if self._expires is None else self._expires

    @cookie_expires.setter
    def cookie_expires(self, value: Expires | None) -> None:
        self._override(
            "_expires", None if value is None else check_expires(value, "cookie_expires")
        )

    def _override(self, slot: str, value: object) -> None:
        """Set this session's own cookie ``domain``, ``path`` or lifetime (``slot``), already
        checked (``None``: the configured one again); a change to save. With
        ``refresh_cookie`` off, a value differing from the one in effect sends the cookie at
        the end of the request (a stored session's, even without a save)."""
        before = self._scope()
        setattr(self, slot, value)
        self._rescoped |= before != self._scope()
        self._version += 1

    def _scope(self) -> tuple[object, ...]:
        """The cookie attributes in effect (the lifetime's type too: ``1 == True``)."""
        expires = self.cookie_expires
        return self.domain, self.path, expires, type(expires)

    def restore_scope(self, domain: str | None, path: str | None) -> None:
        """Use the cookie ``domain`` and ``path`` a front keeps with the session's data
        (Beaker's ``_domain``/``_path`` entries) as loaded: unlike assigning :attr:`domain`
        or :attr:`path`, this is no change, and sends no cookie by itself.

        Raises:
            ConfigError: a value that cannot be a cookie ``Domain`` / ``Path``.
        """
        self._ready()
        self._domain = None if domain is None else check_domain(domain)
        self._path = None if path is None else check_path(path)

    @property
    def save_requested(self) -> bool:
        """Whether :meth:`save` was called and the write is still pending."""
        return self._loaded and self._save

    @property
    def changed(self) -> bool:
        """Whether this request changed the session through this object: a key set or
        deleted, ``clear()``, a new id, or a cookie attribute (never loads it). In-place
        changes to a stored value are not seen."""
        return self._loaded and self._version != 0

    # -------------------------------------------------------------- dict interface

    def __getitem__(self, key: str) -> Any:
        return self._ready()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._ready()[key] = value
        self._touched.add(key)
        self._version += 1

    def __delitem__(self, key: str) -> None:
        del self._ready()[key]
        self._touched.add(key)
        self._version += 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._ready())

    def __len__(self) -> int:
        return len(self._ready())

    def __contains__(self, key: object) -> bool:
        return key in self._ready()

    def get(self, key: str, default: Any = None) -> Any:
        return self._ready().get(key, default)

    def snapshot(self) -> tuple[dict[str, Any], str, float, float]:
        """A shallow copy of the data, the id, the creation and the access time (:attr:`id`,
        :attr:`created`, :attr:`accessed`), in one call: for fronts such as the Beaker-shaped
        compat session that keep the data and times in a ``dict`` of their own."""
        data = self._ready().copy()
        return data, self._id, self._created, self._accessed

    def replace(self, data: dict[str, Any]) -> None:
        """Make ``data`` (a ``dict`` this session takes over) the session's data: for fronts
        that keep the data in a ``dict`` of their own and hand it over at a save. Every key
        whose value differs from before counts as changed, as for any other change."""
        self._ready()
        self._data = data
        self._version += 1

    def clear(self) -> None:
        data = self._ready()
        self._touched.update(data)
        data.clear()
        self._version += 1

    def __repr__(self) -> str:
        if not self._loaded:
            return "<Session (not loaded)>"
        return f"<Session {self._id[:8]}… {len(self._data)} keys>"

    # -------------------------------------------------------------- life cycle

    def save(self) -> None:
        """Write the session (data and times) at the end of the request.

        For cookie-only sessions the cookie is also built at once, so that a session too big
        for a cookie fails here, where the application can react.

        Raises:
            CookieTooLarge: cookie-only session, the cookie would exceed its size limit.
            SerializationError: the data cannot be encoded by the configured serializer.
        """
        self._ready()
        self._save = True
        if not self._backend.server_side:  # encoding only: check the size now
            now = self._sessions.clock()
            header = self._cookie_for(self._write_record(now, full=True), now)
            assert header is not None  # encoding a cookie always gives one
            self._sealed = (self._version, header)

    def save_or_delete(self) -> None:
        """Save the session, or :meth:`delete` it if it is empty and was stored: what
        frameworks whose sessions save themselves do with a changed session (Flask's and
        Starlette's own remove an emptied session's cookie).

        Raises:
            CookieTooLarge: cookie-only session, the cookie would exceed its size limit.
            SerializationError: the data cannot be encoded by the configured serializer.
        """
        if self._ready():
            self.save()
        elif not self._is_new:
            self.delete()

    def persist(self) -> str | None:
        """Write the session now (not waiting for the end of the request); the cookie is sent
        with the response. Further changes need another ``save()``/``persist()``.

        Returns:
            The ``Set-Cookie`` header value naming the written session (what :meth:`finish`
            sends unless the session changes again), for callers that send it themselves
            (Beaker's ``request["cookie_out"]``); ``None`` when nothing was written because
            another request removed the session meanwhile, or (``refresh_cookie`` off) when
            the browser holds that cookie already.

        Raises:
            CookieTooLarge: cookie-only session, the cookie would exceed its size limit.
            SerializationError: the data cannot be encoded.
        """
        self._ready()
        now = self._sessions.clock()
        self._cookie_out = cookie = self._cookie_for(self._write_record(now, full=True), now)
        self._save = False
        self._persisted = True
        self._drop_retired()
        return cookie

    def regenerate_id(self) -> None:
        """Move the data to a new id (call on login, against session fixation); the old
        record is removed and the new one saved at the end of the request."""
        self._ready()
        self._retired.append(self._id)
        self._id = self._backend.ids.new()
        self._save = True
        self._version += 1

    def invalidate(self) -> None:
        """Start over: a new id, no data, a new creation time (``is_new`` becomes ``True``).
        The old record is removed at the end of the request; if the new session is never
        saved, the browser's cookie is expired."""
        self._ready()
        self._retired.append(self._id)
        self._start(self._sessions.clock())
        self._save = False
        self._version += 1

    def delete(self) -> None:
        """Remove the session from storage now and expire the browser's cookie at the end
        of the request (unless the session is saved again, under a new id)."""
        self.invalidate()
        self._drop_retired()

    def revert(self) -> None:
        """Put the data back as it was loaded at the start of the request (empty for a new
        session). The id and any pending save are left as they are."""
        self._ready()
        original = self._original
        if original is None:
            self._data = {}
        else:
            self._data = self._backend.serializer.loads(original.payload)
        self._touched = set()
        self._version += 1

    def lock(self) -> None:
        """Hold this session's lock (through the backend's Lock) until :meth:`unlock` or the
        end of the request. Does nothing if this session already holds it.

        Raises:
            LockTimeout: not acquired within the configured ``lock_timeout``.
        """
        self._ready()
        self._acquire(self._id)

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` (or by whole-request locking).

        Raises:
            LockError: this session does not hold its lock.
        """
        if self._lease is None:
            raise LockError("session lock released but not held")
        self._release()

    # -------------------------------------------------------------- writing

    def _record(self, full: bool) -> SessionRecord:
        """The record to write: the current data (``full``) or the data as loaded, with this
        request's access time."""
        if full:
            payload = self._backend.serializer.dumps(self._data)
        else:
            assert self._original is not None
            payload = self._original.payload
        return tuple.__new__(SessionRecord, (self._id, self._created, self._accessed, payload))

    def _write_record(self, now: float, *, full: bool) -> str | None:
        """Write the record (``full``: the current data; else the data as loaded, with the new
        access time); return the cookie value naming it, or ``None`` when nothing was written
        because another request removed the session, or (an access-time refresh) wrote it.
        For a cookie backend writing is only encoding, with no side effect.

        A stored session is written with the store's compare-and-set against the version
        this request read; when another request saved it since, this request's changes
        (:func:`~beaker.sessions.changes.changes`) are merged into that newer version and the
        write is tried again, after a growing random pause once two prompt retries lost too,
        for up to 10 seconds.

        Raises:
            SessionConflict: other requests kept saving the session for that long; nothing of
                this request was written.
        """
        sessions = self._sessions
        backend = self._backend
        base = self._base
        if not backend.server_side or base is None or base.id != self._id:
            # Cookie-only, a new session or a new id: no other request can have written it.
            record = self._record(full)
            self._base, self._base_version, self._touched = record, _REREAD, set()
            return backend.write(record, sessions.expires_at(record), now)
        deadline = time.monotonic() + _SAVE_BUDGET
        refused = 0
        while True:
            if self._base_version is not _REREAD:
                record = self._record(full)
                expires = sessions.expires_at(record)
                value = backend.write_if(record, expires, now, self._base_version)
                if value is not None:
                    self._base, self._base_version, self._touched = record, _REREAD, set()
                    return value
                if not full:
                    log.debug(
                        "session %s…: saved by another request; no access-time write", self._id[:8]
                    )
                    return None
                refused += 1
                if time.monotonic() > deadline:
                    raise SessionConflict(self._id[:8], refused, _SAVE_BUDGET)
                if refused > 2:
                    time.sleep(random.uniform(0, min(_MAX_PAUSE, 0.001 * 2**refused)))
            newer = self._read(backend.read_id, self._id)
            if newer is None or sessions.expired(newer.record, now):
                log.info(
                    "session %s… was removed by another request meanwhile; this request's "
                    "changes are dropped",
                    self._id[:8],
                )
                self._stale_cookie = True
                return None
            self._merge_into(newer)

    def _merge_into(self, newer: Loaded) -> None:
        """Replay this request's changes onto ``newer`` (stored since this request read)."""
        assert self._base is not None
        before = self._backend.serializer.loads(self._base.payload)
        merged, both = merge(changes(before, self._data, self._touched), before, newer.data)
        for key in both:
            log.debug(
                "session %s…: key %r also changed by a concurrent request; this (later) write wins",
                self._id[:8],
                key,
            )
        self._data = merged
        self._created = newer.record.created
        self._base, self._base_version = newer.record, newer.version

    def _cookie_for(self, value: str | None, now: float) -> str | None:
        """The ``Set-Cookie`` value storing cookie ``value`` at ``now`` (``None``: none to
        send; with ``refresh_cookie`` off, also when the browser holds that id cookie already
        and no cookie attribute was assigned)."""
        if value is None or (
            value == self._browser_value
            and not self._rescoped
            and not self._sessions.refresh_cookie
        ):
            return None
        return self._sessions.cookie.set_cookie(
            value,
            now,
            path=self._path,
            domain=self._domain,
            expires=self._expires,
        )

    def _drop_retired(self) -> None:
        backend = self._backend
        while self._retired:
            backend.remove(self._retired.pop())

    def finish(self, *, commit: bool = True, save: bool = False) -> str | None:
        """Settle the session at the end of the request; return the ``Set-Cookie`` header
        value to send, or ``None``. The middleware calls this when the application starts its
        response; call it yourself when using sessions without the middleware.

        Writes the session if :meth:`save` was called, if ``auto`` is configured, or — with
        ``save_accessed_time`` (or, with ``refresh_cookie`` off, a cookie attribute assigned) —
        to refresh the access time of a session loaded from storage. With ``refresh_cookie``
        off, the id cookie is sent only when the browser's copy must change. Removes records
        retired by :meth:`regenerate_id`/:meth:`invalidate` or found expired.
        Expires the browser's cookie when it names no live session any more. Always releases
        the session's lock. Idempotent: later calls return ``None``.

        Args:
            commit: ``False`` skips every write (the request failed) but still releases the
                lock.
            save: write the whole session, as if :meth:`save` had been called: one step for
                fronts that decide only at the end of the request (Beaker's
                ``SessionObject.persist``).

        Raises:
            CookieTooLarge: the cookie built at the end exceeds its limit.
            SerializationError: the data cannot be encoded.
        """
        if not self._loaded or self._finished:
            self._finished = True
            self._release()
            return None
        self._finished = True
        try:
            if not commit:
                return None
            sessions = self._sessions
            now = sessions.clock()
            cookie = self._cookie_out
            if save or self._save or (sessions.auto and not self._persisted):
                sealed = self._sealed
                if sealed is not None and sealed[0] == self._version and _flat(self._data):
                    cookie = sealed[1]  # the cookie save() built still holds this data
                else:
                    cookie = self._cookie_for(self._write_record(now, full=True), now)
            elif (
                (sessions.refreshes_access or (self._rescoped and not sessions.refresh_cookie))
                and not self._persisted
                and self._original is not None
                and self._id == self._original.id
            ):
                cookie = self._cookie_for(self._write_record(now, full=False), now)
            if self._retired:
                self._drop_retired()
            if cookie is None and (
                self._stale_cookie or (self._loaded_id is not None and self._loaded_id != self._id)
            ):  # the browser's cookie names no live session: expire it
                cookie = sessions.cookie.delete_cookie(path=self._path, domain=self._domain)
            return cookie
        finally:
            if self._lease is not None:
                self._release()
