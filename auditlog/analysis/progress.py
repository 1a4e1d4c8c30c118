"""How long work tells its caller how far it got, with no terminal in sight: a callback
the CLI turns into a progress bar (cli/common.py) and a notebook may ignore or print.

`Steps(done, total, label)` is called before each step with the steps done so far, the
number of steps and what the next one is (a rule id, a file name), and once more with
done == total when the work is finished. Ingest reports per file with the file's result
instead (ingest/pipeline.py `Progress`), as its callers show the rows each file held."""

from __future__ import annotations

from collections.abc import Callable

Steps = Callable[[int, int, str], None]


def no_progress(done: int, total: int, label: str) -> None:
    """The callback of a caller who did not ask."""
