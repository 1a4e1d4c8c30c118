"""The layering as a checked contract (docs/architecture.md): no module reaches into
another's private names, the modules import one another without a cycle, only the CLI
prints or exits, and the import-linter contracts of pyproject.toml hold.

The graph is read from the source with ast, not by importing it: module-level imports
only (an import inside a function runs late and cannot close a cycle at import time),
imports under `if TYPE_CHECKING:` left out (they never run).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "auditlog"


@dataclass(frozen=True)
class Source:
    name: str  # dotted module name, auditlog.ingest.readers
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        """The package a relative import in this module starts from."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Source]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        found[name] = Source(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


MODULES = sources()


def absolute(source: Source, node: ast.ImportFrom) -> str:
    """The module an ImportFrom names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = source.package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: the top level and the blocks of
    top-level if/try/with, never a function or class body, never `if TYPE_CHECKING:`."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not is_type_checking(node.test):
                yield from module_level_imports(node.body)
            yield from module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse,
                          node.finalbody):
                yield from module_level_imports(block)
        elif isinstance(node, ast.With):
            yield from module_level_imports(node.body)


def imported_modules(source: Source) -> set[str]:
    """The auditlog modules `source` imports at import time: `from pkg import sub` names
    the submodule when there is one, the package otherwise."""
    out: set[str] = set()
    for node in module_level_imports(source.tree.body):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in MODULES)
            continue
        base = absolute(source, node)
        for alias in node.names:
            if f"{base}.{alias.name}" in MODULES:
                out.add(f"{base}.{alias.name}")
            elif base in MODULES:
                out.add(base)
    out.discard(source.name)
    return out


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: Source) -> Iterator[str]:
    """Every private name of another auditlog module that `source` uses, anywhere in it
    (function bodies too): `from m import _x`, a private module `m._sub`, and `alias._x`
    where alias is bound to an auditlog module."""
    aliases: dict[str, str] = {}
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("auditlog"):
                    if any(is_private(part) for part in alias.name.split(".")):
                        yield f"line {node.lineno}: import {alias.name}"
                    if alias.asname:
                        aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = absolute(source, node)
            if not base.startswith("auditlog") or base == source.name:
                continue
            if any(is_private(part) for part in base.split(".")):
                yield f"line {node.lineno}: from {base} import ..."
            for alias in node.names:
                if is_private(alias.name):
                    yield f"line {node.lineno}: from {base} import {alias.name}"
                elif f"{base}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    for node in ast.walk(source.tree):
        if (isinstance(node, ast.Attribute) and is_private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in aliases
                and aliases[node.value.id] != source.name):
            yield f"line {node.lineno}: {node.value.id}.{node.attr} ({aliases[node.value.id]})"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as
    one cycle through its members, so a failure shows a path to break."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [one_cycle(graph, component) for component in components]


def one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself (BFS inside it)."""
    members = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {component}")


def test_the_scan_sees_the_package() -> None:
    # A scan that found nothing would pass every test below.
    assert "auditlog.cli" in MODULES and "auditlog.investigation" in MODULES
    graph = {name: imported_modules(source) for name, source in MODULES.items()}
    assert "auditlog.errors" in graph["auditlog.investigation"]


def test_no_module_imports_another_modules_private_names() -> None:
    found = [f"{source.path.relative_to(ROOT)} {use}"
             for source in MODULES.values() for use in private_uses(source)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_no_import_cycle_among_auditlog_modules() -> None:
    graph = {name: imported_modules(source) for name, source in MODULES.items()}
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


# What only the command line may do: write to the console or end the process.
CONSOLE_CALLS = {"print", "exit", "quit", "breakpoint", "input"}
CONSOLE_ATTRIBUTES = {("sys", "exit"), ("sys", "stdout"), ("sys", "stderr"), ("os", "_exit")}


def console_uses(source: Source) -> Iterator[str]:
    """Where a module prints, reads the console or exits: the library raises, the CLI
    renders (docs/architecture.md)."""
    for node in ast.walk(source.tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in CONSOLE_CALLS):
            yield f"line {node.lineno}: {node.func.id}()"
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in CONSOLE_ATTRIBUTES):
            yield f"line {node.lineno}: {node.value.id}.{node.attr}"
        elif isinstance(node, ast.Raise) and node.exc is not None and "SystemExit" in {
                n.id for n in ast.walk(node.exc) if isinstance(n, ast.Name)}:
            yield f"line {node.lineno}: raise SystemExit"


def test_only_the_cli_prints_or_exits() -> None:
    found = [f"{source.path.relative_to(ROOT)} {use}" for name, source in MODULES.items()
             if not (name == "auditlog.cli" or name.startswith("auditlog.cli.")
                     or name == "auditlog.__main__")
             for use in console_uses(source)]
    assert not found, "the library writes to the console or exits:\n" + "\n".join(found)


def test_console_uses_are_found() -> None:
    text = ("import sys\n"
            "def f(x):\n"
            "    print(x)\n"
            "    sys.stderr.write(x)\n"
            "    raise SystemExit(2)\n"
            "def g(fingerprint):\n"
            "    return fingerprint(1)\n")
    source = Source("auditlog.elsewhere", PACKAGE / "elsewhere.py", ast.parse(text))
    assert sorted(use.split(":")[0] for use in console_uses(source)) == [
        "line 3", "line 4", "line 5"]


def test_the_cycle_finder_finds_a_cycle_and_its_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_private_uses_are_found_in_every_form(tmp_path: Path) -> None:
    text = ("from auditlog.ingest.readers import _quote_ident, discover\n"
            "from auditlog.ingest import readers\n"
            "def f():\n"
            "    return readers._sql_string('x')\n"
            "from auditlog.errors import __all__\n")
    source = Source("auditlog.elsewhere", tmp_path / "elsewhere.py", ast.parse(text))
    assert [use.split(":")[0] for use in private_uses(source)] == ["line 1", "line 4"]


def test_type_checking_and_function_imports_are_not_module_level() -> None:
    text = ("from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from auditlog.cli import main\n"
            "def f():\n"
            "    from auditlog.investigation import open\n"
            "try:\n"
            "    from auditlog.errors import UsageError\n"
            "except ImportError:\n"
            "    pass\n")
    source = Source("auditlog.elsewhere", PACKAGE / "elsewhere.py", ast.parse(text))
    assert imported_modules(source) == {"auditlog.errors"}


def test_the_import_linter_contract_is_kept() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install -e '.[lint]')")
    done = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
