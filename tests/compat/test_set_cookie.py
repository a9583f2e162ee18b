"""When ``SessionMiddleware`` sends ``Set-Cookie``, request by request, against real Beaker
1.14.1: one snippet drives a browser (it keeps the cookie it is given and sends it back)
through both middlewares, and each response is reduced to what the browser learns: nothing
(``-``), the value it holds again (``same``), another value (``new``), or an expired cookie
(``gone``), with the ``Domain``/``Path`` sent and the lifetime (``session``, ``far``, ``~N s``).

Beaker sends a server-side session's cookie only when the browser's copy changes (a new
session saved, ``regenerate_id``, ``invalidate``, a timeout, ``delete``, ``domain``/``path``
assigned), never for a plain or access-time save; a cookie session's with every request that
touches a stored one. Where this package differs on purpose, the case says so and why.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from tests.compat import _real_beaker

#: Runs ``cases`` (label -> [options, requests, first cookie]) through Beaker's middleware
#: (whichever ``beaker`` is imported) and sets ``result`` to label -> observations.
BROWSER = """
import datetime as dt, email.utils, json, re, time
from beaker.middleware import SessionMiddleware

def app(environ, start_response):
    session = environ["beaker.session"]
    for name, *args in environ["test.ops"]:
        if name == "get":
            session.get("a")
        elif name == "set":
            session["a"] = args[0]
        elif name == "sleep":
            time.sleep(args[0])
        elif name in ("domain", "path"):
            setattr(session, name, args[0])
        else:  # save, delete, invalidate, regenerate_id, revert
            getattr(session, name)()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b""]

def seen(header, held):
    value = header.split(";")[0].partition("=")[2]
    attributes = dict(
        (part.partition("=")[0].strip().lower(), part.partition("=")[2].strip())
        for part in header.split(";")[1:]
    )
    lifetime = "session"
    if "expires" in attributes:
        left = email.utils.parsedate_to_datetime(
            attributes["expires"].replace("-", " ")).timestamp() - time.time()
        lifetime = "gone" if left <= 0 else "far" if left > 300 * 86400 else f"~{round(left, -2):.0f} s"
    if lifetime == "gone":
        return ["gone", attributes.get("domain"), attributes.get("path")]
    return ["same" if value == held else "new", attributes.get("domain"), attributes.get("path"), lifetime]

def browse(options, requests, cookie):
    if "cookie_expires" in options and isinstance(options["cookie_expires"], list):
        kind, seconds = options["cookie_expires"]
        delta = dt.timedelta(seconds=seconds)
        options["cookie_expires"] = delta if kind == "timedelta" else dt.datetime.now() + delta
    middleware = SessionMiddleware(app, **options)
    key = options.get("key", "beaker.session.id")
    held = cookie
    observed = []
    for ops in requests:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "test.ops": ops}
        if held is not None:
            environ["HTTP_COOKIE"] = f"{key}={held}"
        sent = []
        def start_response(status, headers, exc_info=None):
            sent.extend(v for k, v in headers if k.lower() == "set-cookie")
        list(middleware(environ, start_response))
        if not sent:
            observed.append("-")
            continue
        observed.append(seen(sent[0], held))
        held = None if observed[-1][0] == "gone" else sent[0].split(";")[0].partition("=")[2]
    return observed

result = {label: browse(*case) for label, case in json.loads(CASES).items()}
"""

SAVE = [["set", 1], ["save"]]
GET = [["get"]]
FOREIGN = "0123456789abcdef0123456789abcdef"  # a well-formed id no server issued
COOKIE = {"type": "cookie", "validate_key": "validate"}
ENCRYPTED = {**COOKIE, "encrypt_key": "encrypt"}

NEW = ["new", None, "/", "session"]
SAME = ["same", None, "/", "session"]


def _server_cases(kind: str, options: dict[str, Any]) -> dict[str, list[Any]]:
    def case(name: str, requests: list[Any], cookie: str | None = None, **extra: Any) -> Any:
        return f"{kind}: {name}", [{**options, **extra}, requests, cookie]

    return dict(
        [
            case("new session only read", [GET]),
            case("saved, saved again, read, untouched", [SAVE, SAVE, GET, []]),
            case("save_accessed_time off", [SAVE, GET, SAVE], save_accessed_time=False),
            case("auto", [GET, [["set", 1]], GET], auto=True),
            case("regenerate_id", [SAVE, [["regenerate_id"]], GET]),
            case("regenerate_id and save", [SAVE, [["regenerate_id"], ["save"]], GET]),
            case("invalidate and save", [SAVE, [["invalidate"], ["set", 2], ["save"]], GET]),
            case("timeout, then save", [SAVE, [["sleep", 1.5], *SAVE], GET], timeout=1),
            case("revert and save", [SAVE, [["set", 2], ["revert"], ["save"]], GET]),
            case("delete", [SAVE, [["delete"]], GET]),
            case("domain assigned", [SAVE, [["domain", "example.com"]], GET, SAVE]),
            case("path assigned and saved", [SAVE, [["path", "/app"], ["save"]], GET]),
            case("signed id", [SAVE, SAVE, GET], secret="s3cret"),
            case("bad signature, saved", [SAVE, GET], FOREIGN, secret="s3cret"),
            case(
                "cookie attributes",
                [SAVE, SAVE],
                secure=True,
                httponly=True,
                samesite="Strict",
                cookie_domain="example.org",
                cookie_path="/p",
            ),
            case("cookie_expires False", [SAVE, SAVE, GET], cookie_expires=False),
            case("cookie_expires seconds", [SAVE, SAVE], **{"session.cookie_expires": 3600}),
            case("cookie_expires timedelta", [SAVE, SAVE], cookie_expires=["timedelta", 3600]),
            case("cookie_expires datetime", [SAVE, SAVE], cookie_expires=["datetime", 7200]),
        ]
    )


def _cookie_cases(kind: str, options: dict[str, Any]) -> dict[str, list[Any]]:
    def case(name: str, requests: list[Any], **extra: Any) -> Any:
        return f"{kind}: {name}", [{**options, **extra}, requests, None]

    return dict(
        [
            case("new session only read", [GET]),
            case("saved, saved again, read, untouched", [SAVE, SAVE, GET, []]),
            case("save_accessed_time off", [SAVE, GET], save_accessed_time=False),
            case("auto", [GET, [["set", 1]], GET], auto=True),
            case("delete", [SAVE, [["delete"]], GET]),
            case("domain assigned, not saved", [SAVE, [["domain", "example.com"]]]),
            case("cookie_expires timedelta", [SAVE, GET], cookie_expires=["timedelta", 3600]),
            case("cookie_expires seconds", [SAVE, GET], **{"session.cookie_expires": 3600}),
        ]
    )


def _cases(data_dir: str) -> dict[str, list[Any]]:
    return {
        **_server_cases("memory", {"type": "memory"}),
        **_server_cases("file", {"type": "file", "data_dir": data_dir}),
        **_cookie_cases("cookie", COOKIE),
        **_cookie_cases("encrypted cookie", ENCRYPTED),
    }


def _snippet(cases: dict[str, list[Any]]) -> str:
    return f"CASES = {json.dumps(json.dumps(cases))}\n" + textwrap.dedent(BROWSER)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any]]:
    """label -> (real Beaker's observations, ours), each side on its own data directory."""
    theirs = _real_beaker.run(_snippet(_cases(str(tmp_path_factory.mktemp("beaker")))))
    namespace: dict[str, Any] = {}
    exec(_snippet(_cases(str(tmp_path_factory.mktemp("ours")))), namespace)  # noqa: S102
    ours = _real_beaker.canon(namespace["result"])
    return {label: (dict(theirs)[label], value) for label, value in ours}


@pytest.mark.parametrize("label", sorted(_cases("")))
def test_set_cookie_as_beaker(observed: dict[str, tuple[Any, Any]], label: str) -> None:
    theirs, ours = observed[label]
    assert ours == theirs


def test_the_rules_these_cases_pin(observed: dict[str, tuple[Any, Any]]) -> None:
    """A few of the cases spelled out, so that a change on both sides still shows."""
    theirs = {label: pair[0] for label, pair in observed.items()}
    assert theirs["memory: saved, saved again, read, untouched"] == [NEW, "-", "-", "-"]
    assert theirs["file: regenerate_id"] == [NEW, NEW, "-"]
    assert theirs["memory: domain assigned"] == [
        NEW,
        ["same", "example.com", "/", "session"],
        "-",
        "-",
    ]
    assert theirs["memory: delete"][1][0] == "gone"
    assert theirs["memory: cookie_expires timedelta"] == [["new", None, "/", "~3600 s"], "-"]
    assert theirs["cookie: saved, saved again, read, untouched"] == [NEW, NEW, NEW, "-"]
    assert theirs["cookie: save_accessed_time off"] == [NEW, NEW]


def _run_both(cases: dict[str, list[Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    theirs = _real_beaker.run(_snippet(cases))
    namespace: dict[str, Any] = {}
    exec(_snippet(cases), namespace)  # noqa: S102 - the test's own snippet
    return dict(theirs), dict(_real_beaker.canon(namespace["result"]))


def test_difference_a_cookie_naming_no_stored_session_is_expired() -> None:
    """Beaker adopts an id no server issued (session fixation: a save stores the session
    under the id the client chose) and leaves a cookie whose signature fails; this package
    never adopts an id, expires such a cookie, and a save issues a new id."""
    cases = {
        "unknown id": [{"type": "memory"}, [GET, SAVE, GET], FOREIGN],
        "bad signature": [{"type": "memory", "secret": "s3cret"}, [GET, SAVE], FOREIGN],
    }
    theirs, ours = _run_both(cases)
    assert theirs["unknown id"] == ["-", "-", "-"]
    assert ours["unknown id"] == [["gone", None, "/"], NEW, "-"]
    assert theirs["bad signature"] == ["-", NEW]
    assert ours["bad signature"] == [["gone", None, "/"], NEW]


def test_difference_a_session_ended_unsaved_expires_its_cookie() -> None:
    """After ``invalidate()`` (or a timeout) without a save, Beaker sends a cookie naming a
    new id it never stored, and its cookie session sends a fresh cookie (after
    ``invalidate()``, one still holding the old data); this package stores no session then,
    so it expires the cookie instead. Beaker's ``CookieSession.regenerate_id`` raises
    ``AttributeError``; ours issues a new id."""
    cases = {
        "invalidate": [{"type": "memory"}, [SAVE, [["invalidate"]], GET], None],
        "new session, domain assigned": [{"type": "memory"}, [[["domain", "example.com"]]], None],
        "cookie invalidate": [COOKIE, [SAVE, [["invalidate"]], GET], None],
        "cookie timeout": [{**COOKIE, "timeout": 1}, [SAVE, [["sleep", 1.5], ["get"]]], None],
    }
    theirs, ours = _run_both(cases)
    gone = ["gone", None, "/"]
    assert theirs["invalidate"] == [NEW, NEW, "-"]
    assert ours["invalidate"] == [NEW, gone, "-"]
    assert theirs["new session, domain assigned"] == [["new", "example.com", "/", "session"]]
    assert ours["new session, domain assigned"] == ["-"]
    assert theirs["cookie invalidate"] == [NEW, NEW, NEW]
    assert ours["cookie invalidate"] == [NEW, gone, "-"]
    assert theirs["cookie timeout"] == [NEW, NEW]
    assert ours["cookie timeout"] == [NEW, gone]
