"""A project's sources with hls4ml's trace calls, for a project written without them.

Only the top function and the bridge are touched, in memory: `nnet_utils/`, weights,
`parameters.h` and `defines.h` are used as the user left them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hlsdiff.errors import NotAProject
from hlsdiff.project.adapter import writer
from hlsdiff.project.backend import backend_for
from hlsdiff.project.folder import Project, Sources, open_project


def layer_traces(hls_model: Any) -> dict[str, list[writer.Traced]]:
    """Every layer that writes a call, with the variables hls4ml would trace (an hls4ml ModelGraph)."""
    return {layer.name: [writer.Traced(layer.name, var.name, var.type.name, var.size_cpp())
                         for var in layer.get_variables()]
            for layer in hls_model.get_layers() if layer.get_attr('function_cpp', None)}


def traced_sources(project: Project, hls_model: Any) -> tuple[Sources, bool]:
    """The project's two translation units, with trace calls added where it has none (as its backend traces).
    Returns (sources, added)."""
    sources = project.sources()
    traced = backend_for(project.backend).traced(sources.top_cpp, sources.bridge_cpp, layer_traces(hls_model))
    if traced is None:
        raise NotAProject(f'{project.path}: {writer.bridge_file(project.name)} has no allocate_trace_storage '
                          'to extend')
    top, bridge, added = traced
    return Sources(project.path, project.name, top, bridge, sources.backend), added


def retrace_written(project_dir: Path, hls_model: Any) -> bool:
    """Correct, on disk, the trace calls of a project hlsdiff just had hls4ml write, where its backend writes them
    anew (Quartus: hls4ml 1.3.0's io_stream traces name the output stream); True when the top file changed."""
    project = open_project(project_dir)
    sources = project.sources()
    traced = backend_for(project.backend).traced(sources.top_cpp, sources.bridge_cpp, layer_traces(hls_model))
    if traced is None or traced[0] == sources.top_cpp:
        return False
    (project.path / project.top_file).write_text(traced[0])
    return True
