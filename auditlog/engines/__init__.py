"""The engines that run rule packs, behind one protocol (base.Engine), and their registry.

ENGINES is the one place an engine is named: name -> "module:factory", the factory
called with the database path and the engine's options. Adding an engine is one module
(a class with the Engine protocol, usually an EngineBase) and one line here. The modules
are imported only when their engine is opened, so naming the engines costs nothing.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditlog.errors import UsageError

if TYPE_CHECKING:
    from auditlog.engines.base import Engine

ENGINES: dict[str, str] = {
    "duckdb": "auditlog.engines.duckdb:DuckDBEngine",  # options: bounds, materialize
    "spark": "auditlog.engines.spark:SparkEngine",  # options: lake, master, session, bounds
}


def engine_names() -> tuple[str, ...]:
    return tuple(ENGINES)


def open_engine(name: str, db_path: Path | str, **options: Any) -> Engine:
    """The engine `name` for the database at `db_path`, with its `options`; a
    UsageError for an unknown engine or an option it does not take. Use it in a `with`
    block (entering checks that it can run)."""
    if name not in ENGINES:
        raise UsageError(f"no engine '{name}'; use one of: {', '.join(ENGINES)}")
    module, _, attribute = ENGINES[name].partition(":")
    factory = getattr(importlib.import_module(module), attribute)
    try:
        inspect.signature(factory).bind(db_path, **options)
    except TypeError:
        takes = [p.name for p in inspect.signature(factory).parameters.values()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY]
        odd = ", ".join(sorted(set(options) - set(takes))) or "?"
        raise UsageError(f"the {name} engine takes no option {odd} (its options: "
                         f"{', '.join(takes) or 'none'})") from None
    engine: Engine = factory(db_path, **options)
    return engine
