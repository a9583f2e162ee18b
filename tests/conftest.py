"""Addresses of the real servers the network, session and compat tests run against.

`.ci/run` starts redis-server, a Redis Cluster, memcached and PostgreSQL on loopback and exports
their addresses; outside CI a test whose server is absent is skipped with a hint, and under
``CI=true`` it fails instead, so a broken CI set-up cannot pass silently.
"""

from __future__ import annotations

import os

import pytest

from tests._missing import skip_or_fail

# Shared check helpers get pytest's assertion messages too (they are imported, not collected).
pytest.register_assert_rewrite("tests._file_backed", "tests.network._servers")

_HINT = "start the test servers with `bash .ci/services.sh start` and source the env file it prints"


def _address(variable: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    skip_or_fail(f"{variable} is not set: {_HINT}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """``redis://127.0.0.1:PORT/0`` of a standalone redis-server."""
    return _address("BEAKER_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """``redis://127.0.0.1:PORT`` of one node of a 3-master Redis Cluster."""
    return _address("BEAKER_TEST_REDIS_CLUSTER_URL")


@pytest.fixture(scope="session")
def memcached_servers() -> str:
    """``127.0.0.1:PORT`` (``;``-separated for several) of memcached."""
    return _address("BEAKER_TEST_MEMCACHED")


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) of a scratch PostgreSQL database."""
    return _address("BEAKER_TEST_POSTGRESQL_URL")
