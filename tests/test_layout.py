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


def _functions():
    for p in sorted(PACKAGE.rglob('*.py')):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield p.relative_to(PACKAGE).as_posix(), node


FRONTEND_NAMES = {'keras2', 'keras3', 'pytorch', 'onnx'}


def test_at_most_3_functions_take_more_than_7_parameters():
    """When a function needs 8 parameters a typed value is missing (a build's settings, a run's options):
    group what travels together. `self` and `cls` do not count."""
    over = set()
    for rel, node in _functions():
        a = node.args
        names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
        if len(names) - (names[:1] in (['self'], ['cls'])) > 7:
            over.add((rel, node.name))
    found = sorted(f'{rel}:{name}' for rel, name in over)
    assert len(found) <= 3, found


def _frontend_name_comparisons(p: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(p.read_text())):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            items = [e for s in sides for e in (s.elts if isinstance(s, (ast.Tuple, ast.List, ast.Set)) else [s])]
            if any(isinstance(e, ast.Constant) and e.value in FRONTEND_NAMES for e in items):
                found.append(f'{p.relative_to(PACKAGE).as_posix()}:{node.lineno} {ast.unparse(node)}')
    return found


def test_no_frontend_is_compared_by_name_outside_the_frontends():
    """A frontend's difference is a method or attribute of the Frontend protocol (hlsdiff/frontends/), never an
    `if frontend.name == 'keras2'` in its callers."""
    found = [hit for p in sorted(PACKAGE.rglob('*.py')) if p.relative_to(PACKAGE).parts[0] != 'frontends'
             for hit in _frontend_name_comparisons(p)]
    assert not found, found


def test_trace_imports_neither_the_request_nor_the_frontends():
    """trace/ is below the request and the frontends: what it needs from them is moved down or passed in."""
    up = [f'{m} -> {t}' for m, targets in _graph().items() if m.startswith('hlsdiff.trace')
          for t in targets if t.startswith(('hlsdiff.request', 'hlsdiff.frontends'))]
    assert not up, up


def test_no_two_classes_share_a_name():
    """A class name says which one it is, in a traceback or a search, without its module."""
    where: dict[str, list[str]] = {}
    for p in sorted(PACKAGE.rglob('*.py')):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(f'{p.relative_to(PACKAGE).as_posix()}:{node.lineno}')
    shared = {name: places for name, places in where.items() if len(places) > 1}
    assert not shared, shared


def _methods(tree: ast.Module, cls: str) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    raise AssertionError(f'no class {cls}')


def test_every_frontend_gives_what_the_frontend_protocol_declares():
    """Callers use a frontend through the protocol only, so each one (or FrontendBase under it) defines all of it."""
    package = ast.parse((PACKAGE / 'frontends' / '__init__.py').read_text())
    declared = _methods(package, 'Frontend')
    shared = _methods(package, 'FrontendBase')
    assert {'base_config', 'layer_names', 'hls4ml_convert'} <= declared
    registry = next(n.value for n in package.body if isinstance(n, ast.AnnAssign) and getattr(n.target, 'id', '') == '_REGISTRY')
    modules = [ast.literal_eval(v) for v in registry.values]
    for module in modules:
        tree = ast.parse((PACKAGE.parent / (module.replace('.', '/') + '.py')).read_text())
        made = next(n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'FRONTEND')
        cls = made.func.id
        missing = declared - _methods(tree, cls) - shared
        assert not missing, (module, cls, sorted(missing))
