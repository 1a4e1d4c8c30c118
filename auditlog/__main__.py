"""The `auditlog` command and `python -m auditlog`: the command line, in a process set up
for the short life most of its commands have.

A `trace` or `status` lives about a third of a second, and ~6% of its instructions went
to the cyclic garbage collector (issue 14, BENCHMARKS.md "Sessions 16–17"): the first
generation is collected every 700 allocations, so the imports of Typer, Rich and DuckDB
(hundreds of thousands of objects, none of them garbage) were traversed again and again,
and at exit the interpreter's last collections walked every module once more. So:

- the first generation's threshold is raised to 50,000: cycles are still collected (a
  long `run` or `export` frees its garbage, ~50,000 allocations later at most), only
  far less often;
- at exit, after every other exit handler (registered first, so run last), the heap is
  frozen: the finalizing collections skip the objects the process is about to drop. The
  commands close their DuckDB connections themselves (Investigation.connect), so no
  database waits on a collection to be closed.

Only this entry point does so: a notebook's or a test's process keeps its own settings.
"""

import atexit
import gc


def main() -> None:
    gc.set_threshold(50_000, 10, 10)
    atexit.register(gc.freeze)
    from auditlog.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
