"""The contract inside the repository: every JSON field the code writes is documented in
docs/json-schema.md, the README stays a front door (at most 300 lines) and every docs/ page it
links to exists, and the code cites docs/ pages, not a file outside the repository. Fast: no g++,
no framework, no hls4ml.

The JSON fields are found two ways. Real objects: a small compare analysed by the real `analyse`
and gate, with the emulation's, the links', a remedy's and `fix`'s own serialisers filling what a compare
without g++ cannot, rendered by the JSON writer and walked key by key. And the source: the keys of
every dict literal the code assigns to a JSON field (`result.fix = {...}`,
the records it appends to a list such a literal holds) and every timing it records.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'hlsdiff'
SCHEMA = ROOT / 'docs' / 'json-schema.md'
README = ROOT / 'README.md'
README_MAX_LINES = 300
# DESIGN.md citations in files other engineers own this round; empty this once they cite docs/
PENDING_CITATIONS: set[str] = set()


def documented_names() -> set[str]:
    """The field names the schema page documents: the code spans of the first column of its tables
    (`| `max_abs` | float | ... |`) and the quoted keys of the objects it spells out (`{"sample": int}`)."""
    names = set()
    for line in SCHEMA.read_text().splitlines():
        if line.startswith('|'):
            names.update(re.findall(r'`([^`]+)`', line.split('|')[1]))
        for span in re.findall(r'`([^`]+)`', line):
            names.update(re.findall(r'"([A-Za-z_][A-Za-z0-9_+]*)":', span))
    return names


def keys_of(value, out: set[str] | None = None) -> set[str]:
    out = set() if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            keys_of(v, out)
    elif isinstance(value, list):
        for v in value:
            keys_of(v, out)
    return out


def _compare_result():
    """A compare of a chain inp -> a -> b -> out (b wraps: the onset, with a pattern; out a classifier),
    analysed and gated by the real code, with what only g++ and the emulation produce filled in by their
    own serialisers."""
    from hlsdiff.diagnosis import analyse
    from hlsdiff.emulate import Emulation
    from hlsdiff.emulate.links import Links
    from hlsdiff.emulate.reference import Difference
    from hlsdiff.fixedpoint import FixedType, quantize
    from hlsdiff.fixing.changes import Change
    from hlsdiff.gate import Gates, apply, judge_patched
    from hlsdiff.layers import Collected, LayerArrays, LayerInfo
    from hlsdiff.remedy import Remedy, Unfixable
    from hlsdiff.result import error_result

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8))
    a = x * 3
    b_true = a * 20
    b_csim = quantize(b_true, FixedType(16, 6))
    logits_true, logits_csim = b_true[:, :4], b_csim[:, :4]
    out_true = np.exp(logits_true) / np.exp(logits_true).sum(axis=1, keepdims=True)
    out_csim = np.exp(logits_csim - logits_csim.max(axis=1, keepdims=True))
    out_csim /= out_csim.sum(axis=1, keepdims=True)
    arrays = {'inp': (x, x, None), 'a': (a, a, a), 'b': (b_true, b_csim, b_true), 'out': (out_true, out_csim, out_csim)}
    classes = {'inp': 'Input', 'a': 'Dense', 'b': 'Dense', 'out': 'Softmax'}
    names = list(arrays)
    infos = [LayerInfo(name=n, class_name=classes[n], inputs=() if i == 0 else (names[i - 1],), keras=n,
                       shape=arrays[n][0].shape[1:], result_type='ap_fixed<16,6>') for i, n in enumerate(names)]
    collected = Collected(layers=infos, arrays={n: LayerArrays(*v) for n, v in arrays.items()},
                          unmatched_keras=[('dropout', 'hls4ml optimises it away')])
    result = analyse(collected)
    apply(result, Gates())
    layer = result.layer('b')
    layer.emulation = Emulation('differs', 3, 128, 2.0, (1, 3), 'a reason').to_json()
    layer.links = Links(0.0, 1.5, 0.0).to_json()
    layer.generator_evidence = [Difference('weights', 'w2.txt', 'another order', '(in, out)').to_json()]
    result.timings = {'load': 1.0}
    layer.remedy = Remedy('b', 'Precision.result', 'ap_fixed<16,6>', 'ap_fixed<24,14>', 'wraps', 'emulation',
                          own_error_before=1.5, own_error_after=0.01, verified=True)
    result.fix = {'changes': [Change.of(layer.remedy, 'b').to_json()],
                  'unfixable': [Unfixable('a', 'kernel-defect', 'no config cures it').to_json()]}
    result.patched = analyse(collected)
    judge_patched(result, 'stock')  # gate, verdicts
    failed = error_result('simulation', 'C++ assertion failed', 3, 'model.h5', layer='dw', cause='kernel-abort')
    return result, failed


def real_json_keys() -> set[str]:
    from hlsdiff.reports import json_report

    result, failed = _compare_result()
    keys = set()
    for r in (result, failed):
        keys_of(json.loads(json_report.render(r)), keys)
    return keys


def _targets(node: ast.AST) -> list[ast.AST]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    flat = []
    for t in targets:
        flat.extend(t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])
    return flat


def _dict_keys(node: ast.AST) -> tuple[set[str], set[str]]:
    """The constant keys of every dict literal in `node`, and the attributes its values name (`state.confirmed`)."""
    keys, containers = set(), set()
    for d in ast.walk(node):
        if isinstance(d, ast.Dict):
            keys.update(k.value for k in d.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
            containers.update(v.attr for v in d.values if isinstance(v, ast.Attribute))
    return keys, containers


def source_json_keys(fields: set[str]) -> set[str]:
    """Keys of the dict literals the code assigns (or passes by keyword) to a JSON field or returns from a
    function of a field's name, of the records it appends to a list such a literal holds, and the timings it
    records (`lap('name')`, `timings.update(k=...)`)."""
    keys: set[str] = set()
    containers: set[str] = set()  # the lists a JSON dict literal holds, by attribute name, in any module
    trees = [ast.parse(path.read_text()) for path in PACKAGE.rglob('*.py')]
    for tree in trees:
        for node in ast.walk(tree):
            value = None
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                if any(isinstance(t, ast.Attribute) and t.attr in fields for t in _targets(node)):
                    value = node.value
            elif isinstance(node, ast.keyword) and node.arg in fields:
                value = node.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                func = node.func
                if func.attr == 'lap' and node.args and isinstance(node.args[0], ast.Constant):
                    keys.add(node.args[0].value)
                elif func.attr == 'update' and isinstance(func.value, ast.Attribute) and func.value.attr == 'timings':
                    keys.update(k.arg for k in node.keywords if k.arg)
            elif isinstance(node, ast.FunctionDef) and node.name in fields:  # `def rounding_bound(...)` returns one
                value = ast.Module([r for r in ast.walk(node) if isinstance(r, ast.Return)], [])
            if value is not None:
                found, held = _dict_keys(value)
                keys |= found
                containers |= held
    for tree in trees:
        for node in ast.walk(tree):  # records appended to the lists a JSON dict literal holds
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'append'
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr in containers and node.args):
                keys |= _dict_keys(node.args[0])[0]
    return keys


def test_the_walk_sees_every_part_of_the_report():
    keys = real_json_keys()
    # the top level, a layer, its statistics, pattern, emulation, links, evidence, an output, fix, error, --patch
    for key in ('schema_version', 'layers', 'per_channel', 'phase', 'differing', 'generator', 'permutation',
                'top1_agreement', 'unmatched_keras', 'changes', 'unfixable', 'message', 'verdicts', 'patched',
                'own_error_before', 'verified'):
        assert key in keys, key
    source = source_json_keys(keys)
    for key in ('bound', 'predicted_vs_measured', 'within_tolerance', 'build_peak_rss_mb'):
        assert key in source, key


def test_every_json_field_the_code_writes_is_documented():
    keys = real_json_keys()
    keys |= source_json_keys(keys)
    missing = sorted(k for k in keys if k not in documented_names())
    assert not missing, f'JSON fields the code writes that docs/json-schema.md does not name: {missing}'


def test_the_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f'README.md has {len(lines)} lines; move detail into docs/'


def test_every_docs_page_linked_exists():
    """From the README and from every docs/ page, every link to a page of the repository."""
    broken = []
    for page in [README, *sorted((ROOT / 'docs').glob('*.md'))]:
        for target in re.findall(r'\]\(([^)#\s]+\.md)(?:#[^)]*)?\)', page.read_text()):
            if not target.startswith(('http://', 'https://')) and not (page.parent / target).resolve().exists():
                broken.append(f'{page.relative_to(ROOT)} -> {target}')
    assert not broken, broken
    assert re.search(r'\]\(docs/', README.read_text()), 'the README links into docs/'


def test_the_code_cites_pages_inside_the_repository():
    """Comments and docstrings cite docs/ pages that exist, never DESIGN.md (a file outside the repository)."""
    bad = []
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        if 'DESIGN.md' in text and rel not in PENDING_CITATIONS:
            bad.append(f'{rel}: cites DESIGN.md')
        bad += [f'{rel}: cites {page}, which does not exist' for page in set(re.findall(r'docs/[\w.-]+\.md', text))
                if not (ROOT / page).exists()]
    assert not bad, bad
