"""Every word the code writes into a report is one of docs/vocabulary.md's (pure: reads the sources)."""

from __future__ import annotations

import re
from pathlib import Path

from hlsdiff import vocabulary

PACKAGE = Path(__file__).resolve().parents[1] / 'hlsdiff'


def _sources():
    return [(p, p.read_text()) for p in PACKAGE.rglob('*.py')]


def test_every_cause_the_code_sets_is_in_the_vocabulary():
    found = set()
    for path, text in _sources():
        found |= set(re.findall(r"(?<!, )\bres\.cause\s*=\s*'([a-z-]+)'", text))
        found |= {c for _, c in re.findall(r"res\.status, res\.cause = '([a-z-]+)', '([a-z-]+)'", text)}
        found |= set(re.findall(r"Finding\(\s*'([a-z-]+)'", text))
        found |= set(re.findall(r"cause\s*=\s*'([a-z-]+)'\s*if", text))
    assert found, 'no causes found: the pattern is stale'
    assert found <= set(vocabulary.CAUSES), found - set(vocabulary.CAUSES)


def test_every_status_and_pattern_the_code_sets_is_in_the_vocabulary():
    statuses, patterns = set(), set()
    for path, text in _sources():
        statuses |= set(re.findall(r"\bres\.status\s*=\s*'([a-z-]+)'", text))
        statuses |= {st for st, _ in re.findall(r"res\.status, res\.cause = '([a-z-]+)', '([a-z-]+)'", text)}
        patterns |= set(re.findall(r"Pattern\(\s*'([a-z-]+)'", text))
    assert statuses and statuses <= set(vocabulary.STATUSES), statuses - set(vocabulary.STATUSES)
    assert patterns and patterns <= set(vocabulary.PATTERNS), patterns - set(vocabulary.PATTERNS)
