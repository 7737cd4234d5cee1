"""Can hlsdiff write there? Checked before any expensive work, by every command that writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hlsdiff.errors import BadInput


def check_writable(path: str | None, option: str) -> None:
    """Fail before the expensive work, not after, on a report path that cannot be written."""
    if not path:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path('.')
    if p.is_dir():
        raise BadInput(f'{option} {p}: is a folder')
    if not parent.is_dir():
        raise BadInput(f'{option} {p}: folder {parent} does not exist')
    if not writable(parent) or (p.exists() and not writable(p)):
        raise BadInput(f'{option} {p}: not writable')


def writable(path: Path) -> bool:
    """Writable for us, and not marked read-only by its owner (root ignores the mode bits;
    hlsdiff does not)."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & stat.S_IWUSR)
