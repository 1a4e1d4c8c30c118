"""The limits every rule runs under: a time limit per rule, and the memory and disk
spill of the sandbox connection.

A rule is user SQL: a triple cross join or a list of every row must not hold the
machine. DuckDB bounds memory itself (memory_limit; above it, operators spill to the
temporary directory, bounded by max_temp_directory_size) and raises an out-of-memory
error past both; time is bounded by a watchdog thread that calls interrupt() on the
connection. Either way the rule fails with a RuleError naming it, before the run stores
anything (findings.run_packs merges only after every rule has run).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from auditlog.errors import Location, RuleError, UsageError
from auditlog.store.memory import default_memory_limit, parse_size

__all__ = ["DEFAULT_BOUNDS", "RuleBounds", "parse_size", "time_limit_error", "watchdog"]

@dataclass(frozen=True)
class RuleBounds:
    """Per-rule time limit in seconds; the sandbox's memory limit and disk spill limit.

    Measured (BENCHMARKS.md): every built-in rule runs on 1M charges and 1M actions
    with the sandbox at 2GB, and the 10M-row benchmark ran it at 6GB; under the default
    (store/memory.py) larger data spills to disk instead of failing. A runaway rule stops long before it holds
    the machine (DuckDB's own default is 80% of the RAM and 90% of the free disk).
    """

    timeout: float = 300.0
    # As every connection's (store/memory.py): min(3 GiB, 40% of the machine's memory).
    memory: str = field(default_factory=default_memory_limit)
    spill: str = "16GB"

    @classmethod
    def of(cls, timeout: float | None = None, memory: str | None = None,
           spill: str | None = None) -> RuleBounds:
        """The defaults with what is given instead, checked (UsageError naming the option)."""
        default = cls()
        if timeout is not None and not 0 < timeout < math.inf:
            raise UsageError(f"{{rule_timeout}} {timeout} must be a number of seconds above 0",
                             arguments=("rule_timeout",))
        return cls(timeout=default.timeout if timeout is None else float(timeout),
                   memory=default.memory if memory is None else parse_size(memory,
                                                                            "rule_memory"),
                   spill=default.spill if spill is None else parse_size(spill, "rule_spill"))

    def config(self) -> dict[str, str]:
        """DuckDB settings for the sandbox connection."""
        return {"memory_limit": self.memory, "max_temp_directory_size": self.spill}


DEFAULT_BOUNDS = RuleBounds()


def time_limit_error(rule_id: str, source: str, seconds: float) -> RuleError:
    return RuleError(f"rule {rule_id} was stopped at its time limit of {seconds:g} s "
                     "({rule_timeout})", location=Location(file=source, rule=rule_id),
                     arguments=("rule_timeout",))


@contextmanager
def watchdog(interrupt: Callable[[], object], seconds: float) -> Iterator[Callable[[], bool]]:
    """Call `interrupt` once after `seconds` unless the block ends first; yields a function
    that says whether it fired.

    The lock makes the end of the block and the firing exclusive, so an interrupt never
    lands on whatever the connection runs after the block.
    """
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                interrupt()

    timer = threading.Timer(min(seconds, threading.TIMEOUT_MAX), fire)
    timer.daemon = True
    timer.start()
    try:
        yield lambda: state["fired"]
    finally:
        with lock:
            state["done"] = True
        timer.cancel()
