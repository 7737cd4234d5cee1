"""An hls4ml project on disk: recognise it (one rule), read its settings and sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.backends import DEFAULT as DEFAULT_BACKEND
from hlsdiff.errors import NotAProject
from hlsdiff.project.adapter import writer


@dataclass(frozen=True)
class Sources:
    """The two translation units of a project, as text, and where their includes live."""

    project_dir: Path
    project_name: str
    top_cpp: str
    bridge_cpp: str
    backend: str = DEFAULT_BACKEND  # the backend hls4ml wrote them for (its family: project/backend.py)


@dataclass(frozen=True)
class Project:
    """A generated project: its folder, its name and hls4ml_config.yml as written."""

    path: Path
    name: str
    config: dict[str, Any]

    @property
    def firmware(self) -> Path:
        return self.path / writer.FIRMWARE

    @property
    def io_type(self) -> str:
        return str(self.config.get('IOType') or writer.DEFAULT_IO_TYPE)

    @property
    def backend(self) -> str | None:
        return self.config.get('Backend')

    @property
    def top_file(self) -> str:
        """The top function's file, relative to the project."""
        return writer.top_file(self.name)

    def read(self, rel: str) -> str | None:
        """A file of the project by its path relative to it; None when there is none."""
        p = self.path / rel
        return p.read_text() if p.exists() else None

    def sources(self) -> Sources:
        return read_sources(self.path, self.name, self.backend)


def open_project(path: str | Path) -> Project:
    """Recognise an hls4ml-generated project, or fail with one line (exit 2)."""
    import yaml

    p = Path(path)
    if not p.is_dir():
        raise NotAProject(f'{p}: not a folder, so not an hls4ml project')
    cfg_path = p / writer.CONFIG_FILE
    if not cfg_path.exists():
        raise NotAProject(f'{p}: not an hls4ml project (no {writer.CONFIG_FILE})')
    try:
        cfg = writer.read_config(cfg_path.read_text(errors='replace'))
    except yaml.YAMLError as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotAProject(f'{p}: {writer.CONFIG_FILE} cannot be read ({why}), so not an hls4ml project') from None
    name = str(cfg.get('ProjectName') or writer.DEFAULT_NAME)
    for rel in writer.required(name):
        if not (p / rel).exists():
            raise NotAProject(f'{p}: not an hls4ml project ({rel} is missing)')
    return Project(p, name, cfg)


def is_project(path: str | Path) -> bool:
    """The same rule as `open_project`, as a yes or no."""
    try:
        open_project(path)
    except NotAProject:
        return False
    return True


def read_sources(project_dir: Path, name: str, backend: str | None = None) -> Sources:
    """The two translation units of a project as written (e.g. just written by hls4ml for `backend`)."""
    project_dir = Path(project_dir)
    return Sources(project_dir, name, (project_dir / writer.top_file(name)).read_text(),
                   (project_dir / writer.bridge_file(name)).read_text(), backend or DEFAULT_BACKEND)


def read_weights(firmware: Path, file: str) -> np.ndarray:
    """The doubles the C-simulation reads from a weights file (before the cast to its type); a header (`.h`)
    holds them as the initialiser the library is compiled with (Quartus)."""
    text = (Path(firmware) / writer.WEIGHTS / file).read_text()
    return writer.header_weights_values(text) if file.endswith('.h') else writer.weights_values(text)
