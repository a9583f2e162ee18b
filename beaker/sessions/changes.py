"""What one request changed in a session, and how those changes merge into a newer stored
version: pure functions, shared by every front (WSGI, ASGI) of the session engine.

A request's changes are the keys it set or deleted through the session's dict interface plus
every key whose value differs from the data as loaded (which catches values mutated in place,
``session["cart"].append(x)``). When the store holds a newer version than the one loaded
(another request of the same browser saved meanwhile), the changes are replayed onto it: keys
only the other request changed keep its values, keys only this one changed take this one's.
A key both changed takes this request's value (the later write wins).

Imports nothing from ``beaker``; must not import from ``beaker.caching`` or ``beaker.compat``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple


class Changes(NamedTuple):
    """One request's changes to a session's data.

    Attributes:
        set: the keys written, with their new values.
        deleted: the keys removed.
    """

    set: dict[str, Any]
    deleted: frozenset[str]


def _differs(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> bool:
    if (key in a) != (key in b):
        return True
    if key not in a:
        return False
    try:
        return bool(a[key] != b[key])
    except Exception:  # noqa: BLE001 - a value whose comparison fails counts as changed
        return True


def changes(before: Mapping[str, Any], after: Mapping[str, Any], touched: Iterable[str]) -> Changes:
    """The changes that turn ``before`` (the data as loaded) into ``after`` (as the request
    leaves it).

    Args:
        before: the data as loaded (a fresh copy: not shared with ``after``).
        after: the data now.
        touched: keys the request set or deleted (counted even when the value came out equal).
    """
    keys = set(touched)
    keys.update(key for key in after if _differs(before, after, key))
    keys.update(key for key in before if key not in after)
    written = {key: after[key] for key in keys if key in after}
    return Changes(written, frozenset(keys - written.keys()))


def merge(
    change: Changes, before: Mapping[str, Any], newer: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Replay ``change`` (made on ``before``) onto ``newer``, the version stored since.

    Returns:
        The merged data and the keys both versions changed (sorted), where ``change`` won.
    """
    merged = dict(newer)
    merged.update(change.set)
    for key in change.deleted:
        merged.pop(key, None)
    both = sorted(
        key
        for key in (*change.set, *change.deleted)
        if _differs(before, newer, key) and _differs(newer, merged, key)
    )
    return merged, both
