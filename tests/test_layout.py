"""The package's dependencies point one way: no module imports one that imports it back (pure)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'hlsdiff'


def _graph() -> dict[str, set[str]]:
    mods = {}
    for p in PACKAGE.rglob('*.py'):
        name = '.'.join(p.relative_to(PACKAGE.parent).with_suffix('').parts).removesuffix('.__init__')
        mods[name] = p
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):  # imports inside functions count too
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('hlsdiff'):
                for alias in node.names:
                    full = f'{node.module}.{alias.name}'
                    graph[m].add(full if full in mods else node.module)
            elif isinstance(node, ast.Import):
                graph[m] |= {a.name for a in node.names if a.name.startswith('hlsdiff')}
    return {m: {t for t in targets if t in mods and t != m} for m, targets in graph.items()}


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend(path[path.index(nxt):] + [nxt])
                return True
            if nxt not in state and visit(nxt, path + [nxt]):
                return True
        state[node] = 2
        return False

    for module in sorted(graph):
        if module not in state and visit(module, [module]):
            break
    assert not cycle, ' -> '.join(cycle)


def test_the_analysis_does_not_import_the_stack():
    """diff, diagnosis and emulate are pure: they import no TensorFlow, Keras, QKeras or hls4ml."""
    heavy = ('tensorflow', 'tf_keras', 'keras', 'qkeras', 'hls4ml', 'hlsdiff.trace')
    files = [PACKAGE / 'diff.py', *(PACKAGE / 'diagnosis').rglob('*.py'), *(PACKAGE / 'emulate').rglob('*.py')]
    for p in files:
        for node in ast.walk(ast.parse(p.read_text())):
            names = [node.module or ''] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(n == h or n.startswith(h + '.') for n in names for h in heavy), (p, names)


def _modules(*parts: str) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        p = PACKAGE / part
        out += sorted(p.rglob('*.py')) if p.is_dir() else [p] if p.exists() else []
    return out


def test_no_private_name_is_imported_across_modules():
    """A module's `_name` is its own business: another module that needs it gets a public name."""
    found = []
    for p in PACKAGE.rglob('*.py'):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('hlsdiff'):
                found += [f'{p.relative_to(PACKAGE)}: {node.module}.{a.name}' for a in node.names
                          if a.name.startswith('_') and not a.name.startswith('__')]
    assert not found, found


def test_no_function_over_60_lines_anywhere_in_the_package():
    """The engine, its stages (trace/, csim/, diagnosis/), the project package, the emulation, fix, repro and the
    reports alike."""
    long = []
    files = sorted(PACKAGE.rglob('*.py'))
    assert len(files) > 90  # the whole package is read
    for p in files:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 60:
                    long.append(f'{p.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)')
    assert not long, long
