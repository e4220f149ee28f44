"""The package's shape (DESIGN.md, "Layout"): data flows one way, no import circles, small files.

Every module under nnfx/ is parsed with ``ast`` (nothing is imported). Imports are collected at
module level and inside functions; an import under ``if TYPE_CHECKING:`` never runs, so it
counts for the layers (it is still a dependency) but not for import circles.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nnfx"
MAX_LINES = 450

# Who may not import whom, at any level (function-level imports included). A rule for a
# package covers its subpackages and modules on both sides.
FORBIDDEN = {
    "nnfx.compiler": (
        "nnfx.runtime",
        "nnfx.backends",
        "nnfx.compiled",
        "nnfx.model",
        "nnfx.report",
        "nnfx.cli",
    ),
    "nnfx.trainer": ("nnfx.runtime", "nnfx.compiler", "nnfx.backends", "nnfx.cli"),
    "nnfx.frontends": (
        "nnfx.runtime",
        "nnfx.backends",
        "nnfx.cli",
        "nnfx.report",
        "nnfx.compiled",
    ),
    "nnfx.runtime": ("nnfx.cli", "nnfx.report"),
    "nnfx.backends": ("nnfx.cli", "nnfx.report"),
}
# Nothing imports the CLI but the console script's entry (and the CLI itself).
CLI, CLI_USERS = "nnfx.cli", ("nnfx._entry",)

# Known upward imports that cannot be fixed locally yet: (importer, imported) -> why.
# An entry that no longer matches an import fails the test, so the list only shrinks.
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    kind: str  # "module", "function" or "type-checking"

    def __str__(self) -> str:
        where = "" if self.kind == "module" else f" [{self.kind}-level]"
        return f"module {self.importer} imports {self.imported} (line {self.line}){where}"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (path, is a package's __init__) for every module under nnfx/."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _public_names() -> dict[str, str]:
    """nnfx/__init__.py's lazy names (PEP 562): ``from nnfx import compile`` imports
    nnfx.compiled, so it counts as an import of nnfx.compiled."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_PUBLIC" for t in node.targets
        ):
            table = ast.literal_eval(node.value)
            return {name: module for module, names in table.items() for name in names}
    return {}


PUBLIC = _public_names()


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The nnfx modules an import statement loads (the most specific module it names)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        names = []
        for alias in node.names:
            child = f"{source}.{alias.name}"
            if child in MODULES:
                names.append(child)
            elif source == "nnfx" and alias.name in PUBLIC:
                names.append(PUBLIC[alias.name])
            else:
                names.append(source)
    return [n for n in names if n == "nnfx" or n.startswith("nnfx.")]


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.functions = self.type_checking = 0
        self.imports: list[Import] = []

    def _function(self, node) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if not guarded:
            self.generic_visit(node)
            return
        self.visit(test)
        self.type_checking += 1
        for child in node.body:
            self.visit(child)
        self.type_checking -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node) -> None:
        kind = "type-checking" if self.type_checking else "function" if self.functions else "module"
        for target in _targets(self.module, self.is_package, node):
            found = Import(self.module, target, node.lineno, kind)
            if target != self.module and found not in self.imports:
                self.imports.append(found)

    visit_ImportFrom = visit_Import


def _imports() -> list[Import]:
    found = []
    for module, (path, is_package) in MODULES.items():
        collector = _Collector(module, is_package)
        collector.visit(ast.parse(path.read_text(), str(path)))
        found.extend(collector.imports)
    return found


IMPORTS = _imports()


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _upward(imp: Import) -> bool:
    for lower, higher in FORBIDDEN.items():
        if _within(imp.importer, lower) and any(_within(imp.imported, h) for h in higher):
            return True
    return (
        _within(imp.imported, CLI)
        and not _within(imp.importer, CLI)
        and imp.importer not in CLI_USERS
    )


def _cycles(kinds: set[str]) -> list[list[str]]:
    """Strongly connected components (Tarjan) of more than one module, over imports of
    ``kinds``; each component is a set of modules that import each other in a circle."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if imp.kind in kinds and imp.imported in MODULES:
            graph[imp.importer].add(imp.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the module count
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def _describe(component: list[str], kinds: set[str]) -> str:
    members = set(component)
    edges = [
        f"  {imp}"
        for imp in IMPORTS
        if imp.kind in kinds and imp.importer in members and imp.imported in members
    ]
    return f"circle among {', '.join(component)}:\n" + "\n".join(edges)


def test_the_walk_sees_the_package():
    # A broken walk (wrong root, imports not resolved) would make every check below vacuous.
    assert {"nnfx.compiler.ir", "nnfx.runtime.reference", "nnfx._entry"} <= set(MODULES)
    assert any(
        i.importer == "nnfx.runtime.reference" and i.imported == "nnfx.compiler.ir" for i in IMPORTS
    )
    lazy = [i for i in IMPORTS if i.importer == "nnfx._entry" and i.kind == "function"]
    assert [i.imported for i in lazy] == ["nnfx.cli"], "function-level imports are collected"


def test_no_import_circle_at_module_level():
    kinds = {"module"}
    circles = _cycles(kinds)
    assert not circles, "import circles inside nnfx/:\n" + "\n".join(
        _describe(c, kinds) for c in circles
    )


def test_no_import_from_a_lower_layer_to_a_higher_one():
    upward = [imp for imp in IMPORTS if _upward(imp)]
    violations = [imp for imp in upward if (imp.importer, imp.imported) not in ALLOWED]
    assert not violations, "imports against the one-way flow of DESIGN.md:\n" + "\n".join(
        f"  {imp}" for imp in violations
    )
    stale = set(ALLOWED) - {(imp.importer, imp.imported) for imp in upward}
    assert not stale, f"ALLOWED entries that no longer happen; remove them: {sorted(stale)}"


def test_no_module_passes_450_lines():
    counts = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path, _ in MODULES.values()
    }
    long = {p: n for p, n in counts.items() if n > MAX_LINES}
    assert not long, f"modules under nnfx/ over {MAX_LINES} lines (split them by idea): " + (
        ", ".join(f"nnfx/{p} ({n})" for p, n in sorted(long.items()))
    )


# -- the tests' own shape ------------------------------------------------------------------
TESTS = Path(__file__).resolve().parent
# What the shared oracles may not use: nnfx's own rounding and arithmetic, which they check.
ORACLE_MODULE, ORACLE_FORBIDDEN = "tests.oracles", ("nnfx.runtime", "nnfx.backends")
ORACLE_FORBIDDEN_NAMES = {"quantize", "quantize_raw", "requantize", "to_raw"}


def _test_imports() -> list[tuple[str, str, int, set[str]]]:
    """(importer, imported module, line, names taken) for every import in tests/, at any
    level; relative imports resolved, ``from pkg import mod`` counted as an import of mod."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        parts = list(path.relative_to(TESTS.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        package = module if is_package else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(module, a.name, node.lineno, set()) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                names = {a.name for a in node.names}
                found.append((module, base, node.lineno, names))
                found += [(module, f"{base}.{n}", node.lineno, set()) for n in names]
    return found


TEST_IMPORTS = _test_imports()


def _is_test_module(name: str) -> bool:
    return name.startswith("tests.") and name.rpartition(".")[2].startswith("test_")


def test_no_test_module_imports_another():
    """Shared code lives in helper modules (tests/helpers.py, tests/oracles.py, ...): a test
    module importing another would run the other's tests' setup and tie their files together."""
    assert any(m == "tests.helpers" for _, m, *_ in TEST_IMPORTS), "the walk sees no import"
    bad = sorted(
        f"  {importer} imports {imported} (line {line})"
        for importer, imported, line, _ in TEST_IMPORTS
        if _is_test_module(imported) and imported != importer
    )
    assert not bad, "test modules importing test modules (move the shared code out):\n" + (
        "\n".join(bad)
    )


def test_the_oracles_do_not_use_the_code_they_check():
    uses = [
        f"  line {line}: {imported} {sorted(names) or ''}".rstrip()
        for importer, imported, line, names in TEST_IMPORTS
        if importer == ORACLE_MODULE
        and (
            imported.startswith(ORACLE_FORBIDDEN)
            or names & ORACLE_FORBIDDEN_NAMES
            or imported.rpartition(".")[2] in ORACLE_FORBIDDEN_NAMES
        )
    ]
    assert any(i == ORACLE_MODULE for i, *_ in TEST_IMPORTS), "tests/oracles.py is missing"
    assert not uses, "tests/oracles.py must stay independent of nnfx's arithmetic:\n" + (
        "\n".join(uses)
    )
