"""The session workloads through real Beaker 1.14.1's SessionMiddleware (run by
bench_sessions.py inside a virtualenv that has ``beaker==1.14.1``). Prints one JSON object:
workload -> ns/request."""

from __future__ import annotations

import json
import tempfile

from _timing import ns_per_op

import beaker
from beaker.middleware import SessionMiddleware

assert beaker.__version__ == "1.14.1", beaker.__version__

BASE_ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "80",
    "HTTP_HOST": "localhost",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "http",
}


def counter_app(environ, start_response):
    session = environ["beaker.session"]
    session["count"] = session.get("count", 0) + 1
    session.save()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def untouched_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def requester(app):
    """A no-argument callable making one request with the cookie the first response set."""
    captured = []

    def start_response(status, headers, exc_info=None):
        captured[:] = headers

    list(app(dict(BASE_ENVIRON), start_response))
    cookies = [value.split(";")[0] for name, value in captured if name.lower() == "set-cookie"]
    environ = dict(BASE_ENVIRON)
    if cookies:
        environ["HTTP_COOKIE"] = cookies[0]

    def request():
        list(app(dict(environ), start_response))

    request()
    return request


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
