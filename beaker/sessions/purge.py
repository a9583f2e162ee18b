"""Removing expired server-side sessions: :func:`purge` (the logic, with an injectable clock),
:func:`open_store` (a store from a URL-like spec) and :func:`main`, the command
``python -m beaker sessions purge``.

A session is expired when its record's ``expires_at`` (written from the idle/absolute timeouts)
has passed, or — with ``--older-than SECONDS`` — when it has not been written for that long.
Keys are streamed from the store's ``keys`` and each record is read as it comes, never the
whole key set at once. Removal compares: on a :class:`~beaker.stores.base.VersionedStore`
(every store of ours) a session is read with its version and removed with
:meth:`~beaker.stores.base.VersionedStore.compare_and_delete`, so a session refreshed between
its read and its removal survives. A store without ``compare_and_delete`` (a third party's)
cannot remove only what was read: a session written between the read and the delete would be
lost, so purge refuses it unless told ``unconditional`` (``--unconditional``), then ``get``
and ``delete``. A SQL store without ``--older-than`` purges with its own ``purge_expired``
(one ``DELETE ... WHERE expires < now``, atomic per row).

Store specs are the URLs of :mod:`beaker.stores.registry` (``file:///abs/dir``,
``dbm:///abs/dir``, ``redis://…``, ``memcached://…``, SQLAlchemy URLs); another store is one
:func:`~beaker.stores.registry.register` call.

Must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, NamedTuple, TypeVar, cast

from beaker.entry import Entry
from beaker.errors import BeakerError, ConfigError
from beaker.sessions.store import DEFAULT_NAMESPACE
from beaker.stores.base import Store, VersionedStore
from beaker.stores.registry import store_for_url

T = TypeVar("T")


class PurgeReport(NamedTuple):
    """What a purge found.

    Attributes:
        examined: sessions listed by the store.
        expired: sessions found expired (removed, unless it was a dry run).
        unreadable: listed sessions the store could not read (left alone).
        dry_run: whether nothing was removed.
        refreshed: sessions found expired but rewritten before their removal (kept).
    """

    examined: int
    expired: int
    unreadable: int
    dry_run: bool
    refreshed: int = 0


def is_expired(entry: Entry, now: float, older_than: float | None = None) -> bool:
    """Whether a stored session is dead at ``now`` (seconds since the epoch): past its
    ``expires_at``, or last written more than ``older_than`` seconds ago."""
    if entry.expires_at is not None and entry.expires_at <= now:
        return True
    return older_than is not None and entry.stored_at <= now - older_than


def purge(
    store: Store,
    *,
    now: float,
    namespace: str = DEFAULT_NAMESPACE,
    older_than: float | None = None,
    dry_run: bool = False,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
    unconditional: bool = False,
) -> PurgeReport:
    """Remove the expired sessions of ``namespace`` from ``store``.

    Args:
        store: any Store holding sessions.
        now: the current time, seconds since the epoch.
        namespace: the sessions' namespace (default ``"beaker.session"``).
        older_than: also remove sessions not written for this many seconds (``None``: only
            those past their timeouts).
        dry_run: count, remove nothing.
        progress: wraps the stream of keys for display (e.g. ``tqdm``); ``None`` for none.
        unconditional: on a store without ``compare_and_delete``, delete what was read
            expired anyway (a session rewritten in between is lost); ignored otherwise.

    Returns:
        A :class:`PurgeReport`.

    Raises:
        ConfigError: the store has no ``compare_and_delete`` (and no ``purge_expired`` for
            this purge) and neither ``unconditional`` nor ``dry_run`` is set; nothing removed.
        StoreUnavailable: a network store cannot be reached.
    """
    purge_expired = getattr(store, "purge_expired", None)
    if purge_expired is not None and older_than is None and not dry_run:
        # Its rule is expires < now; ours expires <= now: the next float up makes them one.
        removed = int(purge_expired(math.nextafter(now, math.inf), namespace))
        return PurgeReport(removed, removed, 0, dry_run)
    versioned = isinstance(store, VersionedStore)
    if not (versioned or unconditional or dry_run):
        raise ConfigError(
            "unconditional",
            False,
            f"True to purge a {type(store).__name__}: it has no compare_and_delete, so a "
            "session rewritten between purge's read and its delete would be lost",
        )
    examined = expired = unreadable = refreshed = 0
    keys = store.keys(namespace)
    for key in progress(keys) if progress is not None else keys:
        examined += 1
        if versioned:
            entry, version = cast(VersionedStore, store).get_versioned(namespace, key)
        else:
            entry, version = store.get(namespace, key), None
        if entry is None:
            unreadable += 1  # deleted meanwhile, or corrupt (the store logged it)
        elif not is_expired(entry, now, older_than):
            continue
        elif dry_run:
            expired += 1
        elif not versioned:
            store.delete(namespace, key)
            expired += 1
        elif cast(VersionedStore, store).compare_and_delete(namespace, key, version):
            expired += 1
        else:
            refreshed += 1  # rewritten since we read it: alive again, kept
    return PurgeReport(examined, expired, unreadable, dry_run, refreshed)


def open_store(spec: str) -> Store:
    """The store a URL-like spec names (``file:///dir``, ``dbm:///dir``, ``redis://host/0`` …),
    from the one backend registry (:func:`beaker.stores.registry.store_for_url`).

    Raises:
        ConfigError: unknown scheme, or a local directory that does not exist.
    """
    return store_for_url(spec)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds: {text!r}")
    return value


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the purge options to ``parser`` (or a new one) and return it, so a larger CLI can
    mount the command as a sub-parser."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="python -m beaker sessions purge",
            description="Remove expired server-side sessions from a store.",
        )
    parser.add_argument(
        "--store",
        required=True,
        help="the session store: file:///dir, dbm:///dir or redis://host:port/db",
    )
    parser.add_argument(
        "--namespace", default=DEFAULT_NAMESPACE, help=f"sessions' namespace ({DEFAULT_NAMESPACE})"
    )
    parser.add_argument(
        "--older-than",
        type=_positive_seconds,
        metavar="SECONDS",
        help="also remove sessions not written for this many seconds",
    )
    parser.add_argument("--dry-run", action="store_true", help="count only, remove nothing")
    parser.add_argument(
        "--unconditional",
        action="store_true",
        help="on a store without compare_and_delete, delete anyway (a session written "
        "between its read and its removal is lost)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar on standard error"
    )
    return parser


def _progress_bar(stream: IO[str]) -> Callable[[Iterable[str]], Iterable[str]]:
    """A tqdm bar on ``stream`` when tqdm is installed, else :func:`line_progress`."""
    if importlib.util.find_spec("tqdm") is None:
        return line_progress(stream)
    from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

    def bar(keys: Iterable[str]) -> Iterable[str]:
        wrapped: Iterable[str] = tqdm(
            keys, desc="sessions", unit="session", file=stream, leave=False
        )
        return wrapped

    return bar


def line_progress(stream: IO[str]) -> Callable[[Iterable[str]], Iterator[str]]:
    """A one-line ``sessions: done`` counter on ``stream`` (the fallback without tqdm),
    rewritten every 100 sessions and at the end (the total is not known in advance: keys
    are streamed)."""

    def line(keys: Iterable[str]) -> Iterator[str]:
        done = 0
        for done, key in enumerate(keys, 1):
            yield key
            if done % 100 == 0:
                stream.write(f"\rsessions: {done}")
                stream.flush()
        if done:
            stream.write(f"\rsessions: {done}\n")

    return line


def run(
    args: argparse.Namespace,
    *,
    clock: Callable[[], float] = time.time,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Execute parsed purge options; print the count; return the exit status (0 ok, 1 error)."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    store: Any = None
    try:
        store = open_store(args.store)
        report = purge(
            store,
            now=clock(),
            namespace=args.namespace,
            older_than=args.older_than,
            dry_run=args.dry_run,
            progress=None if args.no_progress else _progress_bar(err),
            unconditional=args.unconditional,
        )
    except BeakerError as exc:
        err.write(f"purge: {exc}\n")
        return 1
    finally:
        if store is not None:
            store.close()
    verb = "would remove" if report.dry_run else "removed"
    line = f"{verb} {report.expired} expired session(s) of {report.examined}"
    if report.unreadable:
        line += f" ({report.unreadable} unreadable, left alone)"
    if report.refreshed:
        line += f" ({report.refreshed} refreshed meanwhile, kept)"
    out.write(line + "\n")
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Callable[[], float] = time.time,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """``python -m beaker sessions purge --store SPEC [--older-than S] [--dry-run]
    [--unconditional]``.

    Args:
        argv: the arguments after ``purge`` (default ``sys.argv[1:]``).
        clock: seconds since the epoch (inject for tests).
        stdout: where the count goes (default ``sys.stdout``).
        stderr: where the progress bar and errors go (default ``sys.stderr``).

    Returns:
        The exit status: 0 on success, 1 on a store/config error (argparse exits with 2 on
        bad usage).
    """
    args = build_parser().parse_args(argv)
    return run(args, clock=clock, stdout=stdout, stderr=stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
