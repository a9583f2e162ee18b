"""The session side of Beaker's documented API, call for call against real Beaker 1.14.1: the
same snippet runs under both (``_real_beaker.run`` there, ``exec`` here) and the results,
exceptions included, must be equal. Deliberate differences are tests of their own, named."""

from __future__ import annotations

import http.cookies
import textwrap
import warnings
from typing import Any

import pytest

from beaker.compat.config import CacheOptions, SessionOptions, session_options
from beaker.compat.session_setup import session_setup
from beaker.errors import ConfigError
from beaker.middleware import SessionMiddleware
from beaker.session import CookieSession, Session, SessionObject
from beaker.sessions import Sessions
from tests.compat import _real_beaker

PRELUDE = """
def outcome(call, *args, **kwargs):
    try:
        return ["ok", call(*args, **kwargs)]
    except Exception as exc:
        from beaker.exceptions import BeakerException
        names = [cls.__name__ for cls in type(exc).__mro__]
        return ["raised", names + ["BeakerException"] * isinstance(exc, BeakerException)]
"""


#: A WSGI application counting its requests in the session, to begin ``same()`` snippets
#: (indented as they are, for ``dedent``).
COUNTING_APP = """
        import webtest
        from beaker.middleware import SessionMiddleware

        def app(environ, start_response):
            session = environ["beaker.session"]
            session["n"] = session.get("n", 0) + 1
            session.save()
            start_response("200 OK", [])
            return [str(session["n"]).encode()]
"""


def both(code: str) -> tuple[Any, Any]:
    """``canon(result)`` of ``code`` under real Beaker and under this package."""
    code = PRELUDE + textwrap.dedent(code)
    theirs = _real_beaker.run(code)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the test's own snippet
    return theirs, _real_beaker.canon(namespace["result"])


def same(code: str) -> None:
    theirs, ours = both(code)
    assert ours == theirs


def raised_by_both(theirs: Any, ours: Any, name: str) -> None:
    """Both raised, and ``name`` is among the classes of both exceptions."""
    assert theirs[0] == ours[0] == "raised" and name in theirs[1] and name in ours[1]


def test_converters() -> None:
    same(
        """
        from beaker.converters import asbool, aslist
        words = ["true", " Yes ", "ON", "y", "t", "1", "false", "no", "Off", "n", "f", "0"]
        result = [
            [asbool(w) for w in words], asbool(1), asbool(0), asbool([]), asbool(None),
            outcome(asbool, "maybe")[0],
            aslist("a b  c"), aslist("a, b", ","), aslist("a, b", ",", False), aslist(None),
            aslist(["x"]), aslist(("x",)), aslist(3),
        ]
        """
    )


def test_crypto_functions_and_modules() -> None:
    same(
        """
        import beaker.crypto as crypto
        from beaker.crypto.pbkdf2 import pbkdf2
        mod = crypto.get_crypto_module("default")
        result = [
            pbkdf2("password", "salt", 3, 20).hex(), pbkdf2(b"pw", b"salt", 1).hex(),
            crypto.generateCryptoKeys("master", "salt", 1, 32).hex(),
            crypto.get_nonce_size(128), crypto.get_nonce_size(48),
            outcome(crypto.get_nonce_size, 7)[0], outcome(crypto.get_crypto_module, "nope")[0],
            crypto.DEFAULT_NONCE_BITS, mod.has_aes, mod.getKeyLength(),
            crypto.get_crypto_module("cryptography").getKeyLength(),
            crypto.hmac.new(b"k", b"m", crypto.hmac_sha1).hexdigest(), crypto.sha1(b"x").hexdigest(),
            crypto.md5(b"x").hexdigest(),
        ]
        """
    )


def test_aes_gcm_ciphertexts_cross_over() -> None:
    key = "00" * 32
    sealed = _real_beaker.run(
        f"""
        from beaker.crypto import get_crypto_module
        result = get_crypto_module("default").aesEncrypt(b"secret data", bytes.fromhex("{key}")).hex()
        """
    )
    from beaker.crypto import get_crypto_module

    module = get_crypto_module("default")
    assert module.aesDecrypt(bytes.fromhex(sealed), bytes.fromhex(key)) == b"secret data"
    ours = module.aesEncrypt(b"ours", bytes.fromhex(key)).hex()
    assert _real_beaker.run(
        f"""
        from beaker.crypto import get_crypto_module
        result = get_crypto_module("default").aesDecrypt(bytes.fromhex("{ours}"), bytes.fromhex("{key}"))
        """
    ) == ["bytes", "ours"]


def test_signed_cookie_encodes_and_verifies_as_beaker() -> None:
    same(
        """
        from beaker.session import SignedCookie, InvalidSignature
        cookie = SignedCookie("secret")
        coded = cookie.value_encode("0123456789abcdef0123456789abcdef")
        parsed = SignedCookie("secret", "k=" + coded[1])
        other = SignedCookie("other", "k=" + coded[1])
        result = [coded, parsed["k"].value, other["k"].value is InvalidSignature,
                  bool(InvalidSignature)]
        """
    )


SESSION_LIFE = """
from http.cookies import SimpleCookie
from beaker.session import {cls}
opts = {opts!r}
request = {{}}
session = {cls}(request, **opts)
first = [session.is_new, session.domain, session.path, session.key, session.timeout,
         session.secure, session.httponly, session.samesite, len(session.id)]
session["a"] = 1
session.save()
first += [sorted(k for k in session), isinstance(session.created, float)]
header = request["cookie_out"]
morsel = session.cookie[session.key]
sent = [isinstance(session.cookie, SimpleCookie), request["set_cookie"], morsel["path"],
        morsel["httponly"], morsel["samesite"], morsel["expires"], header.split("=")[0].strip()]
loaded = {cls}({{"cookie": header.split(";")[0].strip()}}, **opts)
again = [loaded.is_new, loaded["a"], loaded.id == session.id, sorted(k for k in loaded),
         isinstance(loaded.cookie, SimpleCookie), session.key in loaded.cookie]
loaded["a"] = 2
loaded["b"] = 3
loaded.revert()
reverted = [loaded["a"], "b" in loaded, loaded.domain, loaded.path]
loaded.save()
after = {cls}({{"cookie": header.split(";")[0].strip()}}, **opts)
result = [first, sent, again, reverted, after["a"], "b" in after]
"""


@pytest.mark.parametrize(
    ("cls", "opts"),
    [
        ("Session", {"type": "memory"}),
        ("Session", {"type": "memory", "secret": "s", "cookie_path": "/app"}),
        ("CookieSession", {"validate_key": "v"}),
        ("CookieSession", {"validate_key": "v", "encrypt_key": "e" * 32, "httponly": True}),
    ],
)
def test_session_life_and_revert_then_save(cls: str, opts: dict[str, Any], tmp_path: Any) -> None:
    if cls == "Session":  # one process each: a file store both can reach on their own
        opts = {**opts, "type": "file", "data_dir": str(tmp_path / cls)}
    same(SESSION_LIFE.format(cls=cls, opts=opts))


def test_revert_then_the_end_of_the_request_works(tmp_path: Any) -> None:
    """Regression: ``revert()`` then the middleware's save raised ``KeyError: '_domain'``."""
    import webtest

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["beaker.session"]
        session["x"] = 1
        session.revert()
        session.save()
        start_response("200 OK", [])
        return [repr(sorted(session.keys())).encode()]

    for opts in (
        {"session.data_dir": str(tmp_path)},
        {"session.type": "cookie", "session.validate_key": "v"},
    ):
        response = webtest.TestApp(SessionMiddleware(app, opts)).get("/")
        assert "_domain" in response.text and "'x'" not in response.text


def test_session_object_and_get_by_id(tmp_path: Any) -> None:
    same(
        f"""
        from beaker.session import SessionObject
        opts = {{"type": "file", "data_dir": {str(tmp_path)!r}}}
        obj = SessionObject({{}}, **opts)
        before = obj.accessed()
        obj["k"] = "v"
        obj.save()
        dirty = obj.dirty()
        obj.persist()
        found = obj.get_by_id(obj.id)
        result = [before, obj.accessed(), dirty, found["k"], obj.get_by_id("f" * 32),
                  "k" in obj, obj.has_key("k"), sorted(iter(obj)) == sorted(obj.keys())]
        """
    )


def test_configuration_errors_are_beakers() -> None:
    theirs, ours = both(
        """
        from beaker.session import CookieSession, Session
        result = [outcome(CookieSession, {}), outcome(Session, {}, timeout=60, save_accessed_time=False)]
        """
    )
    for their, our in zip(theirs, ours, strict=True):
        raised_by_both(their, our, "BeakerException")


def test_two_id_cookies_pick_the_same_session_as_the_native_engine(tmp_path: Any) -> None:
    opts = {"type": "file", "data_dir": str(tmp_path), "secret": "s"}
    cookies = []
    for value in ("first", "second"):
        request: dict[str, Any] = {}
        session = Session(request, **opts)
        session["which"] = value
        session.save()
        cookies.append(request["cookie_out"].split(";")[0])
    unknown = cookies[0].split("=")[0] + "=" + "A" * 40
    native: Sessions = Session({}, **opts)._setup.sessions
    for header in ("; ".join(cookies), "; ".join(reversed(cookies)), f"{unknown}; {cookies[1]}"):
        compat = Session({"cookie": header}, **opts)
        assert compat["which"] == native.open(header)["which"]
        assert compat.id == native.open(header).id


def test_session_cookie_is_a_simple_cookie() -> None:
    request: dict[str, Any] = {"cookie": "other=1"}
    session = CookieSession(request, validate_key="v")
    session["a"] = 1
    session.save()
    assert isinstance(session.cookie, http.cookies.SimpleCookie)
    assert session.cookie["other"].value == "1" and "beaker.session.id" in session.cookie


def test_secrets_never_in_reprs_or_option_dicts() -> None:
    options = session_options(
        {"secret": "s3cret-one", "validate_key": "v4lid", "encrypt_key": b"3ncr"}
    )
    middleware = SessionMiddleware(
        lambda e, s: [],
        {"session.secret": "s3cret-one", "session.type": "cookie", "session.validate_key": "v4lid"},
    )
    for text in (repr(options), repr(middleware.options), repr(middleware._setup)):
        assert "s3cret" not in text and "v4lid" not in text and "3ncr" not in text
    assert options.secret == "s3cret-one"  # still the value, for whoever uses it


@pytest.mark.parametrize(
    ("name", "value", "spelled"),
    [
        ("key", "bad name;", "session.key"),
        ("cookie_path", "no-slash", "session.cookie_path"),
        ("cookie_domain", "a b", "beaker.session.cookie_domain"),
        ("timeout", "9" * 400, "session.timeout"),
        ("timeout", float("inf"), "session.timeout"),
        ("timeout", float("nan"), "session.timeout"),
        ("samesite", "None", "session.samesite"),  # SameSite=None needs secure
    ],
)
def test_bad_options_fail_at_build_naming_the_option_as_spelled(
    name: str, value: Any, spelled: str
) -> None:
    with pytest.raises(ConfigError) as info:
        SessionMiddleware(lambda e, s: [], {spelled: value})
    assert info.value.option == spelled


def test_options_are_parsed_once_into_a_hashable_value() -> None:
    first = session_options({"type": "file", "data_dir": "/tmp/x", "table_name": "t"})
    second = session_options({"data_dir": "/tmp/x", "table_name": "t", "type": "file"})
    assert isinstance(first, SessionOptions) and first == second and hash(first) == hash(second)
    assert first.backend_options == (("table_name", "t"),)
    assert first.store == CacheOptions(
        type="file", data_dir="/tmp/x", backend_options=(("table_name", "t"),)
    )
    assert session_options({"type": "cookie"}).store is None
    assert Session({}, type="memory")._setup is Session({}, type="memory")._setup


def test_options_only_caches_read_reach_a_session_store_as_given() -> None:
    """The store's options are parsed once, with the session's: cache-only options
    (``expire``, ``key_length``, ``enabled``, ``regions``) are Beaker's ``**namespace_args``
    for a session's backend, not checked a second time as a cache's would be."""
    same(
        COUNTING_APP
        + """
        opts = {"session.type": "memory", "session.expire": "abc", "session.key_length": "x",
                "session.enabled": "maybe", "session.regions": 5}
        browser = webtest.TestApp(SessionMiddleware(app, opts))
        result = [browser.get("/").text, browser.get("/").text]
        """
    )


def test_a_bad_store_option_is_named_as_spelled() -> None:
    with pytest.raises(ConfigError) as info:
        SessionMiddleware(lambda e, s: [], {"session.type": "ext:rediscluster", "session.urls": 5})
    assert info.value.option == "session.urls"


def test_deliberate_differences() -> None:
    """Where the one session engine differs from Beaker on purpose:

    * an unknown id passed to ``Session(id=...)`` gives a new id (Beaker adopted it);
    * a loaded cookie session is not re-encoded at construction (``cookie_out`` is built when
      the session is saved or the request ends);
    * a new ``CookieSession`` has its ``_creation_time`` / ``_accessed_time`` entries before
      its first save (Beaker's got them at the save);
    * ``SessionObject`` works without ``session_class`` being a ``Session`` only for real
      ``Session`` subclasses (Beaker asserted too)."""
    chosen = "ab" * 16
    assert Session({}, id=chosen, use_cookies=False, type="memory").id != chosen
    request: dict[str, Any] = {}
    first = CookieSession(request, validate_key="v")
    first.save()
    loaded_request = {"cookie": request["cookie_out"].split(";")[0]}
    CookieSession(loaded_request, validate_key="v")
    assert "cookie_out" not in loaded_request
    assert "_creation_time" in CookieSession({}, validate_key="v")
    assert SessionObject({}, type="memory", session_class=CookieSession, validate_key="v").id


def test_a_package_subclassing_session_and_cookie_session_works(tmp_path: Any) -> None:
    import webtest

    class AuditedSession(Session):
        def __init__(self, request: dict[str, Any], **options: Any) -> None:
            super().__init__(request, **options)
            self.audit = ["loaded"]

        def save(self, accessed_only: bool = False) -> None:
            self["saves"] = self.get("saves", 0) + (not accessed_only)
            super().save(accessed_only)

    class SignedOnly(CookieSession):
        pass

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["beaker.session"]
        session["n"] = session.get("n", 0) + 1
        session.save()
        start_response("200 OK", [])
        return [f"{session['n']} {type(session._session()).__name__}".encode()]

    for opts in (
        {"session.data_dir": str(tmp_path), "session.session_class": AuditedSession},
        {
            "session.type": "cookie",
            "session.validate_key": "v",
            "session.session_class": SignedOnly,
        },
    ):
        client = webtest.TestApp(SessionMiddleware(app, opts))
        name = opts["session.session_class"].__name__
        assert [client.get("/").text for _ in range(2)] == [f"1 {name}", f"2 {name}"]


def test_a_third_party_namespace_manager_serves_sessions() -> None:
    """``session.type = NAME`` finds a ``beaker.backends`` entry point (the test package in
    tests/compat/thirdparty_backend) and serves SessionMiddleware sessions, as in Beaker."""
    import importlib.util

    from tests._missing import skip_or_fail

    if importlib.util.find_spec("beaker_thirdparty_demo") is None:
        skip_or_fail(
            "the test backend is not installed: pip install tests/compat/thirdparty_backend"
        )
    same(
        COUNTING_APP
        + """
        opts = {"session.type": "thirdparty", "session.required_option": "yes",
                "session.secret": "s"}
        browser = webtest.TestApp(SessionMiddleware(app, opts))
        other = webtest.TestApp(SessionMiddleware(app, opts))
        result = [browser.get("/").text, browser.get("/").text, other.get("/").text,
                  browser.get("/").text]
        """
    )


HOOKED = """
import base64, zlib
from beaker.session import CookieSession

calls = []

class Compressed(CookieSession):
    def _encrypt_data(self, session_data=None):
        calls.append("encrypt")
        return base64.b64encode(zlib.compress(super()._encrypt_data(session_data).encode())).decode()

    def _decrypt_data(self, session_data):
        calls.append("decrypt")
        return super()._decrypt_data(zlib.decompress(base64.b64decode(session_data)).decode())

def cookie_of(cls, **opts):
    request = {{"cookie": ""}}
    session = cls(request, validate_key="v", **opts)
    session["text"] = "abc" * 50
    session.save()
    return request["cookie_out"].split(";")[0]

result = []
for opts in ({{}}, {{"encrypt_key": "e" * 32}}):
    plain, hooked = cookie_of(CookieSession, **opts), cookie_of(Compressed, **opts)
    back = Compressed({{"cookie": hooked}}, validate_key="v", **opts)
    wrong = Compressed({{"cookie": plain}}, validate_key="v", invalidate_corrupt=True, **opts)
    result.append([plain != hooked, back["text"] == "abc" * 50, "text" in wrong,
                   sorted(set(calls)), isinstance(CookieSession({{}}, validate_key="v")._encrypt_data({{"a": 1}}), str)])
    calls.clear()
"""


def test_cookie_session_subclass_hooks_make_the_cookie() -> None:
    """A ``CookieSession`` subclass overriding ``_encrypt_data`` / ``_decrypt_data`` changes
    what the cookie carries and reads it back, as in Beaker (our signature or seal stays
    around the hook's text)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Beaker warns about the invalidated corrupt cookie
        theirs, ours = both(HOOKED.format())
    assert ours == theirs
    assert ours[0][:3] == [True, True, False]


def test_a_server_session_namespace_is_its_storage_by_id(tmp_path: Any) -> None:
    theirs, ours = both(
        f"""
        from beaker.session import CookieSession, Session
        session = Session({{}}, type="file", data_dir={str(tmp_path)!r})
        session["k"] = "v"
        session.save()
        namespace = session.namespace
        namespace.acquire_read_lock()
        stored = "session" in namespace
        namespace.release_read_lock()
        result = [namespace.namespace == session.id, stored,
                  hasattr(CookieSession({{}}, validate_key="v"), "namespace")]
        """
    )
    assert ours == theirs == [True, True, False]


def test_an_ignored_option_is_logged_once_with_the_value_given(
    caplog: pytest.LogCaptureFixture, memcached_client: str
) -> None:
    caplog.set_level("INFO", logger="beaker.compat")
    given = {"crypto_type": "pycrypto", "memcache_module": "pylibmc", "url": memcached_client}
    session_setup({"type": "ext:memcached", **given})
    logged = [record.getMessage() for record in caplog.records]
    assert sum("crypto_type='pycrypto' ignored" in line for line in logged) == 1
    assert sum("memcache_module='pylibmc' ignored" in line for line in logged) == 1
