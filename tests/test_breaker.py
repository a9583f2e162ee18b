"""CircuitBreaker: opens after consecutive failures, fails at once while open, lets one probe
through every reset_after seconds, closes on an answer; one circuit per server address."""

from __future__ import annotations

import pickle

import pytest

from beaker.errors import ConfigError, StoreUnavailable
from beaker.policies import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_probes_after_reset() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=2, reset_after=5.0, clock=clock)
    breaker.before("a")
    breaker.failed("a")
    breaker.succeeded("a")  # an answer resets the count
    breaker.failed("a")
    assert breaker.state("a") == "closed"
    breaker.failed("a")
    assert breaker.state("a") == "open"
    with pytest.raises(StoreUnavailable, match="circuit open after 2 failures") as caught:
        breaker.before("a")
    assert caught.value.address == "a"
    breaker.before("b")  # other servers keep their own circuit
    clock.now += 5.0
    assert breaker.state("a") == "half-open"
    breaker.before("a")  # the probe goes through...
    with pytest.raises(StoreUnavailable):
        breaker.before("a")  # ...alone
    breaker.failed("a")  # the probe failed: open for another reset_after
    clock.now += 4.9
    with pytest.raises(StoreUnavailable):
        breaker.before("a")
    clock.now += 0.1
    breaker.before("a")
    breaker.succeeded("a")
    assert breaker.state("a") == "closed"
    breaker.before("a")


def test_a_lost_probe_does_not_keep_the_circuit_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, reset_after=1.0, clock=clock)
    breaker.failed("a")
    clock.now += 1.0
    breaker.before("a")  # a probe whose outcome is never reported
    clock.now += 1.0
    breaker.before("a")  # another probe after reset_after


def test_pickles_closed_and_validates() -> None:
    breaker = CircuitBreaker(failures=1)
    breaker.failed("a")
    copy = pickle.loads(pickle.dumps(breaker))
    assert copy == breaker and copy.state("a") == "closed" and breaker.state("a") == "open"
    with pytest.raises(ConfigError):
        CircuitBreaker(failures=0)
    with pytest.raises(ConfigError):
        CircuitBreaker(reset_after=float("nan"))
