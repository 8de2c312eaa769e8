"""The layout is the architecture: stages import only earlier stages, and modules stay small.

README's "Where things live" draws the data's path; this test holds the code to it. A module
may import its own package, and packages of its own tier or an earlier one, never a later
stage (imports under ``if TYPE_CHECKING:`` only name types and are not counted). Module-level
imports form no cycle. Every module has a docstring and at most ``MAX_LINES`` lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "digest"
MAX_LINES = 600

# The data's path, earliest first: listing → ingest → store → rank → compose → render →
# deliver → run, with the foundation below everything and the user-facing edges on top.
TIERS: list[set[str]] = [
    {"errors", "records", "text", "files", "resources", "tokens", "config", "profiles", "progress"}
    | {"follows"},
    {"sources"},
    {"fetch"},
    {"store"},
    {"ingest", "subscriptions", "instance"} | {"libraries"},
    {"rank"},
    {"compose"},
    {"render"},
    {"transports"},
    {"run", "delivery"},
    {"preview", "schedule", "demo"},
    {"web"},
    {"cli"},
    {"__init__", "__main__"},
]
# Config validation reads the transport registry (the one list of transport names that
# config, the CLI and make_transport share) and the source-kind registry (the one list of
# kinds that config, the fetcher and the README share): the deliberate looks upward.
ALLOWED_UPWARD = {("config", "transports"), ("config", "fetch")}

TIER = {name: n for n, names in enumerate(TIERS) for name in names}
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def module_name(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path, *, top_level_only: bool) -> set[tuple[str, ...]]:
    """The digest modules ``path`` imports at run time (as dotted parts below digest)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = module_name(path)
    package = own if path.name == "__init__.py" else own[:-1]
    found: set[tuple[str, ...]] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and is_type_checking(node):
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    target = (*base, *(node.module.split(".") if node.module else ()))
                elif node.module and node.module.split(".")[0] == "digest":
                    target = tuple(node.module.split(".")[1:])
                else:
                    continue
                # ``from . import papers`` names a submodule; ``from .x import name`` an
                # attribute, which the cycle check trims back to its module.
                found.update((*target, alias.name) for alias in node.names if target or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "digest":
                        found.add(tuple(alias.name.split(".")[1:]))
            if not top_level_only or isinstance(node, ast.If | ast.Try | ast.With):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        visit([c for c in children if isinstance(c, ast.stmt | ast.excepthandler)])  # type: ignore[misc]

    visit(tree.body)
    return {t for t in found if t}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_small_and_says_what_it_owns(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{path}: split it (over {MAX_LINES} lines)"
    if path.name != "__main__.py":
        assert ast.get_docstring(ast.parse(text)), f"{path}: no module docstring"


def test_every_stage_has_a_tier() -> None:
    stages = {module_name(p)[0] for p in MODULES}
    assert stages <= set(TIER), f"place these in TIERS: {sorted(stages - set(TIER))}"


def test_no_stage_imports_a_later_one() -> None:
    wrong = []
    for path in MODULES:
        stage = module_name(path)[0]
        for target in runtime_imports(path, top_level_only=False):
            other = target[0]
            if other == stage or other not in TIER:
                continue
            if TIER[other] > TIER[stage] and (stage, other) not in ALLOWED_UPWARD:
                wrong.append(f"{path.relative_to(PACKAGE)} imports digest.{'.'.join(target)}")
    assert not wrong, "\n".join(wrong)


def test_module_level_imports_form_no_cycle() -> None:
    names = {module_name(p): p for p in MODULES}
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for name, path in names.items():
        targets = set()
        for target in runtime_imports(path, top_level_only=True):
            # ``from .pkg import name`` may name a submodule or an attribute of the package.
            while target and target not in names:
                target = target[:-1]
            if target and target != name:
                targets.add(target)
        graph[name] = targets
    done: set[tuple[str, ...]] = set()

    def walk(node: tuple[str, ...], path: list[tuple[str, ...]]) -> None:
        if node in path:
            cycle = [*path[path.index(node) :], node]
            raise AssertionError("import cycle: " + " -> ".join(".".join(n) for n in cycle))
        if node in done:
            return
        for nxt in graph.get(node, ()):
            # A package's __init__ importing its own submodules is how packages work.
            if nxt[: len(node)] == node:
                continue
            walk(nxt, [*path, node])
        done.add(node)

    for name in graph:
        walk(name, [])
