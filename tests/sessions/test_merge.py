"""Change tracking and merging: what a request changed is replayed onto a version another
request stored meanwhile (pure functions, then through sessions on a real store)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaker.errors import SessionConflict
from beaker.sessions import Sessions, server_side
from beaker.sessions.changes import Changes, changes, merge
from beaker.stores.file import FileStore
from beaker.stores.memory import MemoryStore

KEYS = st.sampled_from(list("abcdef"))
DATA = st.dictionaries(KEYS, st.integers(0, 3), max_size=6)


def edit(before: dict[str, int], writes: dict[str, int], deletes: set[str]) -> dict[str, int]:
    after = dict(before)
    after.update(writes)
    for key in deletes:
        after.pop(key, None)
    return after


@given(DATA, DATA, st.sets(KEYS), DATA, st.sets(KEYS))
def test_disjoint_changes_both_survive(
    before: dict[str, int],
    ours_set: dict[str, int],
    ours_del: set[str],
    theirs_set: dict[str, int],
    theirs_del: set[str],
) -> None:
    ours_keys = set(ours_set) | ours_del
    theirs_set = {k: v for k, v in theirs_set.items() if k not in ours_keys}
    theirs_del -= ours_keys
    ours = edit(before, ours_set, ours_del - set(ours_set))
    theirs = edit(before, theirs_set, theirs_del - set(theirs_set))
    merged, both = merge(changes(before, ours, ()), before, theirs)
    for key in "abcdef":
        if key in ours_keys:
            assert merged.get(key) == ours.get(key)
        else:
            assert merged.get(key) == theirs.get(key)
    assert both == []


def test_changes_see_sets_deletes_and_in_place_mutation() -> None:
    before = {"cart": [1], "n": 1, "gone": 0, "same": 5}
    after = {"cart": [1, 2], "n": 1, "same": 5, "new": 3}
    found = changes(before, after, touched={"n"})
    assert found == Changes({"cart": [1, 2], "n": 1, "new": 3}, frozenset({"gone"}))


def test_same_key_later_write_wins() -> None:
    before = {"x": 0}
    merged, both = merge(changes(before, {"x": 1}, ()), before, {"x": 2})
    assert merged == {"x": 1} and both == ["x"]
    merged, both = merge(changes(before, {"x": 2}, ()), before, {"x": 2})
    assert merged == {"x": 2} and both == []  # the same value is no conflict


def start(sessions: Sessions) -> str:
    session = sessions.open(None)
    session["n"] = 0
    session.save()
    header = session.finish()
    assert header is not None
    return header.split(";")[0]


def test_two_overlapping_requests_merge_and_log_the_same_key_conflict(
    tmp_path: Any, caplog: Any
) -> None:
    sessions = server_side(FileStore(tmp_path / "s"))
    cookie = start(sessions)
    first, second = sessions.open(cookie), sessions.open(cookie)
    first["a"] = 1
    first["n"] = 1
    second["b"] = 2
    second["n"] = 2
    second["later"] = [second.get("later")]
    first.save()
    second.save()
    first.finish()
    with caplog.at_level(logging.DEBUG, logger="beaker.sessions"):
        second.finish()
    assert "key 'n' also changed by a concurrent request" in caplog.text
    final = sessions.open(cookie)
    assert dict(final) == {"n": 2, "a": 1, "b": 2, "later": [None]}


def test_a_session_removed_meanwhile_is_not_brought_back(tmp_path: Any) -> None:
    sessions = server_side(FileStore(tmp_path / "s"))
    cookie = start(sessions)
    logout, other = sessions.open(cookie), sessions.open(cookie)
    other["x"] = 1
    other.save()
    logout.delete()
    logout.finish()
    header = other.finish()
    assert header is not None and header.endswith("Max-Age=0")  # the cookie is expired
    assert sessions.open(cookie).is_new


def test_persist_then_save_in_one_request_keeps_a_concurrent_write() -> None:
    sessions = server_side(MemoryStore())
    cookie = start(sessions)
    mine, theirs = sessions.open(cookie), sessions.open(cookie)
    mine["a"] = 1
    mine.persist()
    theirs["b"] = 2
    theirs.save()
    theirs.finish()
    mine["c"] = 3
    mine.save()
    mine.finish()
    assert dict(sessions.open(cookie)) == {"n": 0, "a": 1, "b": 2, "c": 3}


def test_access_time_refresh_never_overwrites_a_newer_save(tmp_path: Any) -> None:
    sessions = server_side(FileStore(tmp_path / "s"), timeout=600)
    cookie = start(sessions)
    reader, writer = sessions.open(cookie), sessions.open(cookie)
    assert reader["n"] == 0  # touched: its end refreshes the access time
    writer["n"] = 5
    writer.save()
    writer.finish()
    reader.finish()
    assert sessions.open(cookie)["n"] == 5


class _Contended:
    """A MemoryStore where another request saves the session just before each of the first
    ``rivals`` writes of a session (set or compare-and-set): the interleaving that makes a
    save lose its compare-and-set again and again."""

    holds_objects = True

    def __init__(self, rivals: int) -> None:
        self.inner = MemoryStore()
        self.sessions: Sessions | None = None
        self.cookie = ""
        self.rivals = rivals
        self.rival_keys: list[str] = []
        self._racing = False

    def _rival_saves(self) -> None:
        if self._racing or self.sessions is None or len(self.rival_keys) >= self.rivals:
            return
        self._racing = True
        try:
            rival = self.sessions.open(self.cookie)
            key = f"rival{len(self.rival_keys)}"
            rival[key] = 1
            rival.save()
            rival.finish()
            self.rival_keys.append(key)
        finally:
            self._racing = False

    def get(self, namespace: str, key: str) -> Any:
        return self.inner.get(namespace, key)

    def get_versioned(self, namespace: str, key: str) -> Any:
        return self.inner.get_versioned(namespace, key)

    def set(self, namespace: str, key: str, entry: Any) -> None:
        self._rival_saves()
        self.inner.set(namespace, key, entry)

    def compare_and_set(self, namespace: str, key: str, entry: Any, version: object) -> bool:
        self._rival_saves()
        return self.inner.compare_and_set(namespace, key, entry, version)

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        return self.inner.compare_and_delete(namespace, key, version)

    def delete(self, namespace: str, key: str) -> None:
        self.inner.delete(namespace, key)

    def clear(self, namespace: str) -> None:
        self.inner.clear(namespace)

    def keys(self, namespace: str) -> Any:
        return self.inner.keys(namespace)

    def close(self) -> None:
        self.inner.close()


def contended(rivals: int) -> tuple[_Contended, Sessions, str]:
    store = _Contended(rivals)
    sessions = server_side(store)
    cookie = start(sessions)
    store.sessions, store.cookie = sessions, cookie
    return store, sessions, cookie


def test_a_save_outrun_many_times_keeps_merging_and_loses_no_write() -> None:
    store, sessions, cookie = contended(rivals=40)  # more than any fixed number of merges
    mine = sessions.open(cookie)
    mine["mine"] = 1
    mine.save()
    mine.finish()
    assert len(store.rival_keys) == 40
    final = dict(sessions.open(cookie))
    assert final == {"n": 0, "mine": 1, **dict.fromkeys(store.rival_keys, 1)}


def test_a_save_outrun_for_its_whole_budget_raises_and_writes_nothing_over(
    monkeypatch: Any,
) -> None:
    import beaker.sessions.model

    monkeypatch.setattr(beaker.sessions.model, "_SAVE_BUDGET", 0.05)
    store, sessions, cookie = contended(rivals=10**6)  # other requests never stop saving
    mine = sessions.open(cookie)
    mine["mine"] = 1
    with pytest.raises(SessionConflict) as raised:
        mine.save()
        mine.finish()
    assert raised.value.attempts >= 3 and raised.value.session == cookie.split("=")[1][:8]
    assert cookie.split("=")[1] not in str(raised.value)
    final = dict(sessions.open(cookie))
    assert "mine" not in final
    assert final == {"n": 0, **dict.fromkeys(store.rival_keys, 1)}
