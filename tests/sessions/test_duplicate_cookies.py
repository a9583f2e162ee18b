"""Several cookies with the session's name in one request (a stale cookie on a longer
``Path`` beside the live one, or a client sending many): native and compat sessions choose the
same way — the value that loads; among those, the last sent, as real Beaker 1.14.1 (its
``SimpleCookie`` keeps the last duplicate) — and look at most four values."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import webtest

from beaker.middleware import SessionMiddleware as CompatMiddleware
from beaker.sessions import SessionMiddleware, server_side
from beaker.sessions.cookies import MAX_SESSION_COOKIES, session_candidates
from beaker.stores.file import FileStore
from tests.compat._real_beaker import run

NAME = "beaker.session.id"


def user_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``/login?user=X`` starts a session for X; ``/`` answers the session's user."""
    session = environ["beaker.session"]
    if environ["PATH_INFO"] == "/login":
        session["user"] = environ["QUERY_STRING"].removeprefix("user=")
        session.save()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(session.get("user")).encode()]


@pytest.fixture(params=["native", "compat"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> webtest.TestApp:
    if request.param == "native":
        wrapped: Any = SessionMiddleware(user_app, server_side(FileStore(tmp_path / "s")))
    else:
        wrapped = CompatMiddleware(
            user_app, {"session.type": "file", "session.data_dir": str(tmp_path / "s")}
        )
    return webtest.TestApp(wrapped)


def login(app: webtest.TestApp, user: str) -> str:
    """The id cookie value of a new session for ``user``."""
    response = app.get(f"/login?user={user}")
    app.reset()
    return str(response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1])


def ask(app: webtest.TestApp, *values: str) -> str:
    header = "; ".join(f"{NAME}={value}" for value in values)
    return str(app.get("/", headers={"Cookie": header}).text)


def test_the_last_of_two_live_sessions_wins(app: webtest.TestApp) -> None:
    ada, bob = login(app, "ada"), login(app, "bob")
    assert ask(app, ada, bob) == "bob"
    assert ask(app, bob, ada) == "ada"


def test_a_stale_cookie_beside_the_live_one_keeps_the_user_logged_in(
    app: webtest.TestApp,
) -> None:
    ada = login(app, "ada")
    stale = secrets.token_hex(16)  # well-formed, but no longer stored
    assert ask(app, stale, ada) == "ada"  # stale cookie on a longer Path, sent first
    assert ask(app, ada, stale) == "ada"  # the one that loads, wherever it is
    assert ask(app, "garbage", ada, "../../etc/passwd") == "ada"


def test_only_the_last_four_values_are_looked_at(app: webtest.TestApp) -> None:
    ada = login(app, "ada")
    unknown = [secrets.token_hex(16) for _ in range(MAX_SESSION_COOKIES)]
    assert ask(app, ada, *unknown) == "None"
    assert ask(app, ada, *unknown[1:]) == "ada"
    assert ask(app, *[ada] * 50, *unknown[1:]) == "ada"  # repeats count once


def test_candidates_are_last_first_distinct_and_bounded() -> None:
    header = "; ".join(f"{NAME}={n % 7}" for n in range(2000))
    assert session_candidates(header, NAME) == ["4", "3", "2", "1"]
    assert session_candidates("a=1; beaker.session.id=x", NAME) == ["x"]
    assert session_candidates(None, NAME) == []


def test_real_beaker_takes_the_last_of_two_live_sessions(tmp_path: Path) -> None:
    """The rule above is Beaker 1.14.1's (checked by running it)."""
    result = run(
        f"""
        from beaker.session import Session
        opts = dict(type="file", data_dir={str(tmp_path / "b")!r})
        ids = []
        for user in ("ada", "bob"):
            session = Session({{}}, **opts)
            session["user"] = user
            session.save()
            ids.append(session.id)
        header = "; ".join("beaker.session.id=" + i for i in ids)
        result = Session({{"cookie": header}}, **opts).get("user")
        """
    )
    assert result == "bob"
