"""Command line: ``python -m beaker demo`` and ``python -m beaker sessions purge``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["demo"]:
        from beaker.demo import main as demo

        return demo(args[1:])
    if args[:2] == ["sessions", "purge"]:
        from beaker.sessions.purge import main as purge

        return purge(args[2:])
    print(
        "usage: python -m beaker demo [--serve] [--port N] [--asgi]\n"
        "       python -m beaker sessions purge --store SPEC [--older-than SECONDS] [--dry-run]",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
