"""Why a file named .parquet cannot be read, in auditlog's words, from its bytes.

A Parquet file starts with the magic `PAR1` and ends with its footer: the metadata's
length (4 bytes, little-endian) and `PAR1` again. DuckDB's own messages for a file that
breaks this ("No magic bytes found at end of file") name its internals; a user needs to
know whether the file is empty, not Parquet at all, or cut short.
"""

from __future__ import annotations

from pathlib import Path

MAGIC = b"PAR1"
# The magic at both ends and the footer's length: the smallest file that can be Parquet.
SMALLEST = 2 * len(MAGIC) + 4


def damage(path: Path) -> str:
    """What is wrong with the Parquet file at `path` that DuckDB could not read, the end
    of a sentence "the file ..."."""
    return flaw(path) or "is a damaged Parquet file: its metadata or pages cannot be read"


def flaw(path: Path) -> str | None:
    """What is wrong with the frame of the Parquet file at `path` (its magic at both
    ends, its footer's length), or None. Looked at before DuckDB reads it: DuckDB reads
    only the end of a file, so it takes a file whose first bytes are not PAR1."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes), not a Parquet file"
    with path.open("rb") as f:
        head = f.read(len(MAGIC))
        if size < SMALLEST:
            return f"is not a Parquet file ({size} bytes, too short for one)"
        f.seek(size - 8)
        tail = f.read(8)
    if head != MAGIC:
        return "is not a Parquet file (it does not start with PAR1)"
    if tail[4:] != MAGIC:
        return "is truncated or damaged: it has no PAR1 footer at its end"
    footer = int.from_bytes(tail[:4], "little")
    if footer > size - SMALLEST:
        return (f"is truncated or damaged: its footer says its metadata is {footer:,} bytes, "
                f"more than the file's {size:,}")
    return None
