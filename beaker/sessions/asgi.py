"""The native ASGI :class:`SessionMiddleware`: the same
:class:`~beaker.sessions.factory.Sessions` as the WSGI middleware, for asyncio servers, with
the session in ``scope["session"]`` so that Starlette's and FastAPI's ``request.session`` use it::

    from beaker.sessions import cookie_only, server_side
    from beaker.sessions.asgi import SessionMiddleware
    from beaker.stores import AsyncMemoryStore

    app = SessionMiddleware(app, server_side(AsyncMemoryStore(), timeout=1800))
    # or: SessionMiddleware(app, cookie_only(AESGCMEncrypter(["new key", "old key"])))

Every decision (which cookie values name a session, ids, timeouts, the record and cookie
formats, when to write and what ``Set-Cookie`` to send) is the session engine's, shared with
WSGI (:class:`~beaker.sessions.model.Session`); this module only does the I/O the asyncio way.
Pure ASGI: no framework is imported.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any, ClassVar, TypeVar, cast

import attrs

from beaker.entry import Entry
from beaker.errors import SessionError
from beaker.locks.base import AsyncLease, AsyncLock, Lease, LeaseBase
from beaker.serializers.base import Serializer
from beaker.sessions.cookies import session_candidates
from beaker.sessions.factory import ASYNC_SESSIONS, Sessions
from beaker.sessions.ids import SessionIds
from beaker.sessions.middleware import vary_with_cookie
from beaker.sessions.model import Session
from beaker.sessions.store import Loaded, ServerSideBackend, SessionRecord, read_cookie
from beaker.stores.base import AsyncStore, AsyncVersionedStore, compares_and_sets
from beaker.validators import is_callable, non_empty_str

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
T = TypeVar("T")


def _cookie_header(scope: Scope) -> str | None:
    """The request's ``Cookie`` header; several (HTTP/2 may split it) joined with ``; ``."""
    found = None
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            text = value.decode("latin-1")
            found = text if found is None else f"{found}; {text}"
    return found


class _Held(LeaseBase):
    """What the engine holds for a lock this request took before the app ran: released (for
    real) when the response starts."""

    __slots__ = ()

    def release(self) -> None:
        pass


_HELD = _Held()


class _RequestIO:
    """One request's I/O for a server-side session on an async store, as the engine's
    :class:`~beaker.sessions.store.SessionBackend`.

    Before the app runs, :meth:`load` reads the record a cookie names, with its version on an
    :class:`~beaker.stores.base.AsyncVersionedStore` (after taking its lock with
    ``lock_requests``); the engine then reads from what was loaded. Its writes and removals
    are queued for :meth:`flush` when the response starts; or, once :meth:`bridge` has named
    the event loop, each is awaited there at once from the thread the engine runs in (so a
    compare-and-set that finds a newer version makes the engine read it, merge and retry, as
    on WSGI). The decisions (is the cookie value an id this server issued, is the record
    sound, what to write) are the wrapped :class:`~beaker.sessions.store.ServerSideBackend`'s
    own.
    """

    __slots__ = (
        "_absent",
        "_backend",
        "_entries",
        "_leases",
        "_lock",
        "_loop",
        "_store",
        "_versioned",
        "_versions",
        "_writes",
        "ids",
        "serializer",
    )

    server_side: ClassVar[bool] = True

    def __init__(self, backend: ServerSideBackend) -> None:
        self._backend = backend
        self._store = cast(AsyncStore, backend.store)  # the middleware checked
        self._versioned = compares_and_sets(self._store)
        self._lock = cast(AsyncLock, backend.lock)
        self.ids: SessionIds = backend.ids
        self.serializer: Serializer = backend.serializer
        self._entries: dict[str, Entry | None] = {}
        self._versions: dict[str, object] = {}
        self._absent: set[str] = set()  # looked up under their lock, and not stored
        self._leases: dict[str, AsyncLease] = {}
        self._writes: list[tuple[str, Entry | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _get(self, session_id: str) -> Entry | None:
        """Read a record (and its version, kept for :meth:`write_if`)."""
        namespace = self._backend.namespace
        if not self._versioned:
            entry = await self._store.get(namespace, session_id)
        else:
            store = cast(AsyncVersionedStore, self._store)
            entry, self._versions[session_id] = await store.get_versioned(namespace, session_id)
        self._entries[session_id] = entry
        return entry

    async def load(self, values: list[str], lock_timeout: float | None, lock: bool) -> None:
        """Read the first stored record that one of the cookie's values names, as the engine
        will look for it (in order), holding its lock first when ``lock``."""
        backend = self._backend
        for value in values:
            session_id = backend.session_id(value)
            if session_id is None or session_id in self._entries:
                continue
            lease = None
            if lock:
                lease = await self._lock.acquire(backend.lock_name(session_id), lock_timeout)
            try:
                entry = await self._get(session_id)
            except BaseException:
                if lease is not None:
                    await lease.release()
                raise
            if entry is not None:
                if lease is not None:
                    self._leases[session_id] = lease
                return
            if lease is not None:
                self._absent.add(session_id)
                await lease.release()

    @property
    def merges(self) -> bool:
        """Whether a save may meet a newer version to merge with: a stored session was
        loaded from a store with versions (then the engine settles in a worker thread,
        :meth:`bridge`)."""
        return self._versioned and any(entry is not None for entry in self._entries.values())

    async def bridge(self) -> None:
        """Apply the writes queued so far, then await each later read and write on this
        event loop at once: the engine runs in another thread and blocks on them."""
        for session_id, entry in self._take_writes():
            await self._apply(session_id, entry)
        self._loop = asyncio.get_running_loop()

    def _call(self, operation: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(operation, self._loop).result()

    def read(
        self, cookie_value: str, before_load: Callable[[str], object] | None = None
    ) -> Loaded | None:
        return read_cookie(self._backend, self.read_id, cookie_value, before_load)

    def read_id(self, session_id: str) -> Loaded | None:
        if session_id in self._entries:
            entry = self._entries[session_id]
        elif self._loop is not None:  # the engine reads again after a refused write
            entry = self._call(self._get(session_id))
        else:
            entry = None
        return self._backend.decode(session_id, entry, self._versions.get(session_id))

    def write(self, record: SessionRecord, expires_at: float | None, now: float) -> str:
        entry = self._backend.entry_for(record, expires_at, now)
        if self._loop is None:
            self._writes.append((record.id, entry))
        else:
            self._call(self._apply(record.id, entry))
        return self._backend.cookie_value(record.id)

    def write_if(
        self, record: SessionRecord, expires_at: float | None, now: float, version: object
    ) -> str | None:
        if self._loop is None or not self._versioned:
            return self.write(record, expires_at, now)
        entry = self._backend.entry_for(record, expires_at, now)
        store = cast(AsyncVersionedStore, self._store)
        namespace = self._backend.namespace
        if not self._call(store.compare_and_set(namespace, record.id, entry, version)):
            self._entries.pop(record.id, None)  # stale: read it again
            return None
        return self._backend.cookie_value(record.id)

    def remove(self, session_id: str) -> None:
        if self._loop is None:
            self._writes.append((session_id, None))
        else:
            self._call(self._apply(session_id, None))

    def acquire(self, session_id: str, timeout: float | None) -> Lease:
        if session_id in self._leases or session_id in self._absent:
            return _HELD  # held since before the app ran, or found absent under the lock
        raise SessionError(
            "an ASGI session cannot wait for its lock inside the app: configure "
            "lock_requests=True to hold it for the whole request"
        )

    def _take_writes(self) -> list[tuple[str, Entry | None]]:
        writes, self._writes = self._writes, []
        return writes

    async def _apply(self, session_id: str, entry: Entry | None) -> None:
        """Write a record (``entry``) or remove it (``None``)."""
        if entry is None:
            await self._store.delete(self._backend.namespace, session_id)
        else:
            await self._store.set(self._backend.namespace, session_id, entry)

    async def flush(self) -> None:
        """Apply the queued writes and removals in order, then release the locks (also when a
        write fails)."""
        try:
            for session_id, entry in self._take_writes():
                await self._apply(session_id, entry)
        finally:
            await self.release()

    async def release(self) -> None:
        """Release every lock still held (idempotent)."""
        leases, self._leases = self._leases, {}
        for lease in leases.values():
            await lease.release()


def _settled(session: Session) -> str | None:
    """Save a changed session (or delete an emptied one) and finish it: the ``Set-Cookie``
    value to send, or ``None``."""
    if session.changed:
        session.save_or_delete()
    return session.finish()


@attrs.frozen
class SessionMiddleware:
    """Puts a :class:`~beaker.sessions.model.Session` in ``scope[scope_key]`` (default
    ``"session"``, where Starlette's and FastAPI's ``request.session`` look) for every HTTP
    and WebSocket connection; other scopes (lifespan) pass through.

    The session is a mapping used synchronously (``request.session["n"] = 1``), so I/O
    happens around the app, never inside a dict operation:

    * Loading: a request without the session cookie reads nothing (its session is new, made
      when first touched). A request with it has the record it names read from the async
      store before the app runs (after taking its lock with ``lock_requests``), even if the
      app never touches the session; the cookie itself is checked first, so a forged or
      malformed value reads nothing either. Cookie-only sessions decode lazily, when touched.
    * Saving: when the response starts, a session changed through the mapping is saved, or
      deleted if it was emptied (as Starlette's own middleware does); ``save()``, ``auto`` and
      the access-time refresh of ``save_accessed_time`` apply as with WSGI. Writes, removals
      (``regenerate_id``, ``invalidate``, ``delete``, expired sessions) and ``persist()`` are
      awaited then, before the response's first byte; then the lock is released, and the
      ``Set-Cookie`` and ``Vary: Cookie`` headers are added.
    * Failures: if the app raises before its response starts, nothing is saved and the lock
      is released. A store error while saving fails the request
      (:class:`~beaker.errors.StoreUnavailable`), never a silent lost write.
    * Locking: ``Session.lock()`` cannot wait inside a synchronous call and raises
      :class:`~beaker.errors.SessionError`; use ``lock_requests=True``, which serializes the
      requests of one session (from loading to the response start) across every process
      sharing the lock. Without it, concurrent saves of one session merge as on WSGI: a
      session loaded from an :class:`~beaker.stores.base.AsyncVersionedStore` (every async
      store of ours) is saved with its compare-and-set, and on a newer version the engine
      reads it, merges this request's changes into it and tries again (the engine then runs
      in a worker thread, awaiting each store call on the loop).
    * WebSocket: the session is loaded the same way and is read-only (there is no response
      to carry a cookie); the lock is released when the connection ends.

    Args:
        app: the ASGI application to wrap.
        sessions: the session configuration: :func:`~beaker.sessions.factory.server_side`
            over an :class:`~beaker.stores.base.AsyncStore`, or
            :func:`~beaker.sessions.factory.cookie_only`.
        scope_key: where the session goes in the scope (``str``, default ``"session"``).

    Raises:
        ComponentTypeError: ``app`` is not callable or ``sessions`` not a ``Sessions``.
        ConfigError: server-side ``sessions`` on a sync store.
    """

    app: ASGIApp = attrs.field(validator=is_callable("an ASGI application (callable)"))
    sessions: Sessions = attrs.field(validator=ASYNC_SESSIONS)
    scope_key: str = attrs.field(default="session", validator=non_empty_str())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        sessions = self.sessions
        header = _cookie_header(scope)
        io = None
        if sessions.backend.server_side:
            io = _RequestIO(cast(ServerSideBackend, sessions.backend))
            values = session_candidates(header, sessions.cookie.name)
            if values:
                await io.load(values, sessions.lock_timeout, sessions.lock_requests)
            session = Session(sessions, header, io)
        else:
            session = Session(sessions, header)
        scope[self.scope_key] = session

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                if session.loaded:
                    message = await self._settle(session, io, message)
                elif io is not None:
                    await io.release()  # loaded for nothing: free the lock now
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        finally:
            session.finish(commit=False)  # no-op once settled; releases the engine's hold
            if io is not None:
                await io.release()

    async def _settle(self, session: Session, io: _RequestIO | None, message: Message) -> Message:
        """Save the session as the engine decides, and add its headers to the response's
        start message (a copy)."""
        if io is not None and io.merges:
            # The engine may meet a newer version: it runs in a worker thread, awaiting
            # each compare-and-set (and re-read) on this loop, and merges as on WSGI.
            await io.bridge()
            cookie = await asyncio.to_thread(_settled, session)
        else:
            cookie = _settled(session)
        if io is not None:
            await io.flush()
        headers = list(message.get("headers", ()))
        for index, (name, value) in enumerate(headers):
            if name.lower() == b"vary":
                vary = vary_with_cookie(value.decode("latin-1"))
                if vary is not None:
                    headers[index] = (name, vary.encode("latin-1"))
                break
        else:
            headers.append((b"vary", b"Cookie"))
        if cookie is not None:
            headers.append((b"set-cookie", cookie.encode("latin-1")))
        return {**message, "headers": headers}
