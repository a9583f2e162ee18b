"""Isolation for the compat tests: Beaker's API is process-global (module-level regions and
shared namespaces), so each test starts from an empty state."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator

import pytest

with warnings.catch_warnings():
    # WebOb (under WebTest, Pyramid) imports the `cgi` module, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401
    import webtest  # noqa: F401

from beaker.compat import cache as compat_cache
from tests._missing import skip_or_fail


@pytest.fixture(autouse=True)
def _fresh_beaker_state() -> Iterator[None]:
    compat_cache._reset_for_tests()
    yield
    compat_cache._reset_for_tests()


@pytest.fixture(autouse=True)
def _fresh_session_setups() -> Iterator[None]:
    from beaker.compat import session_setup

    session_setup._reset_for_tests()
    yield
    session_setup._reset_for_tests()


@pytest.fixture
def memcached_client(memcached_servers: str) -> str:
    """The memcached servers, once the client library (pymemcache) is known to be installed."""
    if importlib.util.find_spec("pymemcache") is None:
        skip_or_fail("pymemcache is not installed (the 'memcached' extra)")
    return memcached_servers
