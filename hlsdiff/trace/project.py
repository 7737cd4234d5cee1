"""An hls4ml project on disk: find it, read its settings, and get its sources with tracing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hlsdiff.csim.compile import Sources
from hlsdiff.errors import NotAProject


@dataclass(frozen=True)
class Project:
    path: Path
    name: str
    config: dict  # hls4ml_config.yml as written by hls4ml

    @property
    def firmware(self) -> Path:
        return self.path / 'firmware'


def open_project(path: str | Path) -> Project:
    """Recognise an hls4ml-generated project, or fail with one line (exit 2)."""
    import yaml

    p = Path(path)
    if not p.is_dir():
        raise NotAProject(f'{p}: not a folder, so not an hls4ml project')
    cfg_path = p / 'hls4ml_config.yml'
    if not cfg_path.exists():
        raise NotAProject(f'{p}: not an hls4ml project (no hls4ml_config.yml)')
    try:
        cfg = yaml.safe_load(cfg_path.read_text()) or {}
    except yaml.YAMLError:
        # hls4ml writes python-specific tags for some values; a tolerant loader reads the rest
        cfg = yaml.load(cfg_path.read_text(), Loader=_TolerantLoader) or {}
    name = cfg.get('ProjectName', 'myproject')
    for needed in (p / 'firmware' / f'{name}.cpp', p / f'{name}_bridge.cpp', p / 'firmware' / 'nnet_utils'):
        if not needed.exists():
            raise NotAProject(f'{p}: not an hls4ml project ({needed.relative_to(p)} is missing)')
    return Project(p, name, cfg)


class _TolerantLoader(__import__('yaml').SafeLoader):
    pass


_TolerantLoader.add_multi_constructor('tag:yaml.org,2002:python/', lambda loader, suffix, node: None)


def traced_sources(project: Project, hls_model) -> tuple[Sources, bool]:
    """The project's two translation units, with trace calls added where it has none.

    Only the top function and the bridge are touched, in memory: `nnet_utils/`, weights,
    `parameters.h` and `defines.h` are used as the user left them. Returns (sources, added).
    """
    top = (project.firmware / f'{project.name}.cpp').read_text()
    bridge = (project.path / f'{project.name}_bridge.cpp').read_text()
    added = False
    layers = [layer for layer in hls_model.get_layers() if layer.get_attr('function_cpp', None)]
    if 'save_layer_output' not in top:
        top = _add_save_calls(top, layers)
        added = True
    if 'trace_outputs->insert' not in bridge:
        allocs = ''.join(
            f'    nnet::trace_outputs->insert(std::pair<std::string, void *>("{layer.name}", '
            f'(void *) malloc({var.size_cpp()} * element_size)));\n'
            for layer in layers
            for var in layer.get_variables()
        )
        bridge, n = re.subn(r'(nnet::trace_type_size = element_size;\n)', lambda m: m.group(1) + allocs, bridge, count=1)
        if n != 1:
            raise NotAProject(f'{project.path}: {project.name}_bridge.cpp has no allocate_trace_storage to extend')
        added = True
    return Sources(project.path, project.name, top, bridge), added


def _add_save_calls(top: str, layers) -> str:
    lines = top.split('\n')
    for layer in layers:
        saves = ['#ifndef __SYNTHESIS__'] + [
            f'    nnet::save_layer_output<{var.type.name}>({var.name}, "{layer.name}", {var.size_cpp()});'
            for var in layer.get_variables()
        ] + ['#endif']
        tag = f'// {layer.name}'
        for i, line in enumerate(lines):
            if line.rstrip().endswith(tag) and line.strip() != tag:  # one-line call
                lines[i + 1 : i + 1] = saves
                break
            if line.strip() == tag:  # several lines follow, up to a blank line
                j = i + 1
                while j < len(lines) and lines[j].strip():
                    j += 1
                lines[j:j] = saves
                break
    return '\n'.join(lines)


def read_sources(project_dir: Path, name: str) -> Sources:
    return Sources(
        project_dir,
        name,
        (project_dir / 'firmware' / f'{name}.cpp').read_text(),
        (project_dir / f'{name}_bridge.cpp').read_text(),
    )
