"""CircuitBreaker: after repeated failures to reach a server, fail at once for a while instead
of waiting out a timeout on every call.

The breaker is the policy (how many failures open it, how long it stays open) plus its circuit,
the runtime state kept in a :class:`~beaker.runtime.Lazy`. A network connection
(:class:`~beaker.stores.RedisConnection`, :class:`~beaker.stores.MemcachedConnection`,
:class:`~beaker.stores.SQLAlchemyConnection`) holds one, so a store and a lock sharing that
connection share its circuit.

Imports only :mod:`beaker.errors`, :mod:`beaker.runtime` and :mod:`beaker.validators`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

import attrs

from beaker.errors import StoreUnavailable
from beaker.runtime import Lazy, lazy_field
from beaker.validators import is_callable, positive_int, seconds

log = logging.getLogger("beaker.policies.breaker")

State = Literal["closed", "open", "half-open"]


class _Circuit:
    """One server's consecutive failures, and since when its circuit is open (``None``:
    closed)."""

    __slots__ = ("failures", "opened_at")

    def __init__(self) -> None:
        self.failures = 0
        self.opened_at: float | None = None


class _Circuits:
    """The circuits of one breaker, by server address, created at a server's first failure."""

    __slots__ = ("by_address", "mutex")

    def __init__(self) -> None:
        self.by_address: dict[str, _Circuit] = {}
        self.mutex = threading.Lock()


@attrs.frozen
class CircuitBreaker:
    """Opens after ``failures`` consecutive failures to reach a server; while open, calls to
    that server fail at once with :class:`~beaker.errors.StoreUnavailable`. Every
    ``reset_after`` seconds one call is let through (the half-open probe): if the server
    answers, the circuit closes; if not, it stays open for another ``reset_after``.

    Each server address has its own circuit: with several memcached servers, a down one fails
    its own keys only.

    Args:
        failures: consecutive failures (connection errors, timeouts) that open a circuit
            (``int`` >= 1, default 3). Any answer from the server resets the count.
        reset_after: seconds a circuit stays open before a probe is let through (default 5).
        clock: monotonic seconds (``() -> float``), injectable for tests.

    Thread-safe. A pickled copy starts closed. Two connections given one breaker object share
    its circuits.

    Raises:
        ConfigError: ``failures`` or ``reset_after`` out of range.
        ComponentTypeError: ``clock`` is not callable.
    """

    failures: int = attrs.field(default=3, validator=positive_int())
    reset_after: float = attrs.field(default=5.0, validator=seconds(positive=True))
    clock: Callable[[], float] = attrs.field(
        default=time.monotonic, repr=False, validator=is_callable("a clock () -> seconds")
    )
    _circuits: Lazy[_Circuits] = lazy_field()

    def state(self, address: str) -> State:
        """``"closed"``, ``"open"`` or ``"half-open"`` (open, and a probe may go through) for
        the server at ``address``."""
        circuits = self._circuits.value
        circuit = None if circuits is None else circuits.by_address.get(address)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - circuit.opened_at >= self.reset_after else "open"

    def before(self, address: str) -> None:
        """Call before every operation on the server at ``address``.

        Raises:
            StoreUnavailable: its circuit is open and this call is not the probe.
        """
        circuits = self._circuits.value
        if circuits is None:
            return
        circuit = circuits.by_address.get(address)
        if circuit is None or circuit.opened_at is None:
            return
        with circuits.mutex:
            opened_at = circuit.opened_at
            if opened_at is None:
                return
            now = self.clock()
            if now - opened_at >= self.reset_after:
                circuit.opened_at = now  # this call is the probe; the others keep failing
                return
        raise StoreUnavailable(
            address,
            f"circuit open after {circuit.failures} failures; "
            f"next try in {self.reset_after - (now - opened_at):.2f} s",
        )

    def succeeded(self, address: str) -> None:
        """Call when the server at ``address`` answered (whatever the answer): closes its
        circuit."""
        circuits = self._circuits.value
        if circuits is None:
            return
        circuit = circuits.by_address.get(address)
        if circuit is not None and circuit.failures:
            with circuits.mutex:
                reopened = circuit.opened_at is not None
                circuit.failures = 0
                circuit.opened_at = None
            if reopened:
                log.info("store at %s answers again: circuit closed", address)

    def failed(self, address: str) -> None:
        """Call when the server at ``address`` could not be reached or did not answer in
        time."""
        circuits = self._circuits.get(_Circuits)
        with circuits.mutex:
            circuit = circuits.by_address.get(address)
            if circuit is None:
                circuit = circuits.by_address[address] = _Circuit()
            circuit.failures += 1
            opening = circuit.opened_at is None and circuit.failures >= self.failures
            if circuit.opened_at is not None or opening:
                circuit.opened_at = self.clock()
        if opening:
            log.warning(
                "store at %s failed %d times in a row: calls fail at once for %g s",
                address,
                circuit.failures,
                self.reset_after,
            )
