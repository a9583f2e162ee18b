"""The session workloads through real Beaker 1.14.1's SessionMiddleware (run by
bench_sessions.py inside a virtualenv that has ``beaker==1.14.1``). Prints one JSON object:
workload -> ns/request."""

from __future__ import annotations

import json
import tempfile

from _timing import ns_per_op
from _wsgi import counter_app, requester, untouched_app

import beaker
from beaker.middleware import SessionMiddleware

assert beaker.__version__ == "1.14.1", beaker.__version__


def main():
    tmp = tempfile.mkdtemp()
    validate = "a long random validation secret"
    configs = {
        "signed cookie request": (
            {"session.type": "cookie", "session.validate_key": validate},
            counter_app,
        ),
        "encrypted cookie request": (
            {
                "session.type": "cookie",
                "session.validate_key": validate,
                "session.encrypt_key": "a long random encryption secret",
            },
            counter_app,
        ),
        "file session request": (
            {
                "session.type": "file",
                "session.data_dir": tmp + "/data",
                "session.lock_dir": tmp + "/lock",
                "session.secret": validate,
            },
            counter_app,
        ),
        "untouched request": (
            {"session.type": "cookie", "session.validate_key": validate},
            untouched_app,
        ),
    }
    results = {
        name: ns_per_op(requester(SessionMiddleware(app, config)))
        for name, (config, app) in configs.items()
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
