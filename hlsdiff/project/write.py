"""Changing a project's files so that it can be put back byte for byte.

Every replaced file is copied first to `.hlsdiff-backup/` in the project (once: the first backup
is the original), with a manifest of what was created, replaced and written; writes are atomic
(a temporary file, then a rename); a revert refuses to discard edits made after the write.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hlsdiff.errors import BadInput
from hlsdiff.writable import writable

BACKUP_DIR = '.hlsdiff-backup'
TMP_SUFFIX = '.hlsdiff-tmp'  # a write in progress; one left by a killed write is removed by the next


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TMP_SUFFIX, dir=path.parent)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    if path.exists():
        shutil.copymode(path, tmp)
    os.replace(tmp, path)


def _check_writable(project: Path, rels: Iterable[str], what: str) -> None:
    for folder in {(project / rel).parent for rel in rels} | {project}:
        if folder.exists() and not writable(folder):
            raise BadInput(f'{folder}: read-only; {what} changes nothing there')


def apply_changes(project: Path, changes: dict[str, str], originals: dict[str, str | None]) -> list[str]:
    """Back up every file about to change, then write `changes` (relative path -> new text)."""
    if not changes:
        return []
    _check_writable(project, changes, 'hlsdiff patch')
    backup = project / BACKUP_DIR
    manifest_path = backup / 'manifest.json'
    manifest = read_manifest(project) if manifest_path.exists() else {'created': [], 'replaced': [], 'written': {}}
    manifest.setdefault('written', {})
    for rel in changes:
        if rel in manifest['created'] or rel in manifest['replaced']:
            continue
        if originals.get(rel) is None:
            manifest['created'].append(rel)
        else:
            dest = backup / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / rel, dest)
            manifest['replaced'].append(rel)
    backup.mkdir(exist_ok=True)
    for rel, text in changes.items():
        manifest['written'][rel] = hashlib.sha256(text.encode()).hexdigest()
    atomic_write(manifest_path, json.dumps(manifest, indent=2) + '\n')
    for rel, text in changes.items():
        atomic_write(project / rel, text)
    return sorted(changes)


def read_manifest(project: Path) -> dict[str, Any]:
    """The backup's manifest; a damaged one is bad input (exit 2), never an internal error."""
    path = project / BACKUP_DIR / 'manifest.json'
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), list) for k in ('created', 'replaced')):
            raise ValueError('created/replaced lists missing')
        if not isinstance(manifest.get('written', {}), dict):
            raise ValueError('written is not a mapping')
    except (OSError, ValueError) as exc:
        raise BadInput(f'{path}: damaged backup manifest ({exc}); restore the originals by hand from '
                       f'{project / BACKUP_DIR}/') from None
    return manifest


def revert_changes(project: Path, force: bool = False) -> list[str]:
    """Put back every file the backup holds, remove every file it created, then the backup."""
    backup = project / BACKUP_DIR
    if not (backup / 'manifest.json').exists():
        raise BadInput(f'{project}: no {BACKUP_DIR}/ here, so nothing to revert (was it patched by hlsdiff?)')
    manifest = read_manifest(project)
    changed = [rel for rel, digest in (manifest.get('written') or {}).items()
               if (project / rel).exists() and hashlib.sha256((project / rel).read_bytes()).hexdigest() != digest]
    if changed and not force:
        raise BadInput(f'{project}: changed since hlsdiff patched them: {", ".join(sorted(changed))}; --revert would '
                       'discard those edits (--force to revert anyway)')
    _check_writable(project, manifest['replaced'] + manifest['created'], 'hlsdiff patch --revert')
    restored = []
    for rel in manifest['replaced']:
        tmp = (project / rel).with_name(f'.{Path(rel).name}.hlsdiff-revert')
        shutil.copy2(backup / rel, tmp)
        os.replace(tmp, project / rel)
        restored.append(rel)
    for rel in manifest['created']:
        (project / rel).unlink(missing_ok=True)
        restored.append(rel)
    shutil.rmtree(backup)
    return restored


def remove_leftovers(project: Path) -> list[str]:
    """Temporary files of a write that was killed midway."""
    removed = []
    for p in project.rglob(f'.*{TMP_SUFFIX}'):
        p.unlink(missing_ok=True)
        removed.append(str(p.relative_to(project)))
    return removed
