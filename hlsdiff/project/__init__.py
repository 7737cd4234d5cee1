"""Everything hlsdiff knows about an hls4ml project, in one package.

    detect   folder.py     open_project / is_project: one rule; Project (name, settings, files), Sources
    read     top.py        the top function: its nnet:: calls, the layer each writes, weights loads, arguments
             headers.py    defines.h typedefs, parameters.h config structs and their constants
             folder.py     read_weights: what the C-simulation loads
    write    write.py      changes with backups, atomic writes, revert (hlsdiff patch)
             split.py      the top unit as several translation units (the build's split)
             tracing.py    trace calls added to a project written without them (in memory)
    layout   hls4ml_1_3.py hls4ml 1.3.0's Vivado/Vitis writer: file names, the C++ it writes, its quirks
             adapter.py    which writer's layout is read (the next hls4ml release: a new module there)
"""

from __future__ import annotations

from hlsdiff.project.adapter import writer
from hlsdiff.project.backend import family_of_project as backend_family
from hlsdiff.project.folder import Project, Sources, is_project, open_project, read_sources, read_weights
from hlsdiff.project.headers import ConfigStruct, Headers, evaluate, headers_of, read_headers
from hlsdiff.project.top import KernelCall, TopFunction, WeightsLoad, read_top, read_top_file
from hlsdiff.project.tracing import retrace_written, traced_sources

__all__ = ['ConfigStruct', 'Headers', 'KernelCall', 'Project', 'Sources', 'TopFunction', 'WeightsLoad', 'evaluate',
           'headers_of', 'is_project', 'open_project', 'read_headers', 'read_sources', 'read_top', 'read_top_file',
           'read_weights', 'retrace_written', 'traced_sources', 'writer', 'backend_family']
