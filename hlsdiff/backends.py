"""The hls4ml backends and strategies hlsdiff takes, by the names hls4ml 1.3.0 gives them (docs/backends.md).

One table, written once: the command line lists it in `--help` (so this module imports nothing heavy),
the request checks a backend against it before any work, and `hlsdiff/project/backend.py` holds the
implementation of each backend family that is compared.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from hlsdiff.errors import BadInput

DEFAULT = 'Vivado'
# compared end to end: each has an implementation in hlsdiff/project/backend.py (Vitis projects are laid out,
# typed and built as Vivado's; Quartus's and Catapult's are ac_fixed, built with the ac_types hls4ml ships)
COMPARED = ('Vivado', 'Vitis', 'Quartus', 'Catapult')


@dataclass(frozen=True)
class ToolNeeded:
    """A backend whose C-simulation hls4ml builds with a tool of its vendor, not with g++."""

    tool: str  # the program hls4ml calls (looked up on PATH)
    what: str  # what it is, for the message


NEEDS_TOOL = {
    'oneAPI': ToolNeeded('icpx', "Intel's oneAPI DPC++/C++ compiler"),
    'Libero': ToolNeeded('shls', "Microchip's SmartHLS"),
}
NAMES = COMPARED + tuple(NEEDS_TOOL)
# `hlsdiff patch` repairs defects of the Vivado templates' depthwise kernels (docs/patch.md): Vivado-only
PATCHED = ('Vivado', 'Vitis')

# Model-level Strategy as hls4ml spells it (its passes compare `distributed_arithmetic` case-sensitively)
STRATEGIES = ('Latency', 'Resource', 'distributed_arithmetic')


def canonical(name: str, names: tuple[str, ...], what: str) -> str:
    """`name` spelt as in `names` (case-insensitive), or BadInput naming the choices."""
    for known in names:
        if known.lower() == str(name).lower():
            return known
    raise BadInput(f'{what} {name!r} is not one of {", ".join(names)}')


def strategy(name: str) -> str:
    """A Strategy as hls4ml spells it."""
    return canonical(name, STRATEGIES, '--strategy')


def require(name: str | None) -> str:
    """The backend `name` as hls4ml spells it, when hlsdiff can compare it here; BadInput (exit 2) otherwise, one
    line: the tool a backend needs that is not on this machine, or that hlsdiff does not compare it yet."""
    if name is None:
        return DEFAULT
    known = canonical(name, NAMES, '--backend')
    needed = NEEDS_TOOL.get(known)
    if needed is not None and shutil.which(needed.tool) is None:
        raise BadInput(f'--backend {known}: `{needed.tool}` ({needed.what}) is needed to build its C-simulation and '
                       'was not found on PATH')
    if known not in COMPARED:
        raise BadInput(f'--backend {known}: hlsdiff does not compare {known} projects yet (it compares '
                       f'{", ".join(COMPARED)})')
    return known


def require_patchable(name: str | None) -> str:
    """The backend, when `--patch` applies to its projects; BadInput (exit 2) in one line otherwise."""
    known = require(name)
    if known not in PATCHED:
        raise BadInput(f'--patch: hlsdiff patch repairs the depthwise kernels of {"/".join(PATCHED)} projects only '
                       f'(the defects are in their templates); {known} projects are compared without it')
    return known
