"""What differs per hls4ml backend family, behind one protocol (docs/backends.md).

hls4ml's backends write projects that differ in the headers the C++ types come from (and so the compiler's
include paths, and whether hlsdiff's precompiled header of them applies), in the type grammar (`ap_fixed<W,I,Q,O>`
for Vivado/Vitis, `ac_fixed<W,I,S,Q,O>` for Quartus and Catapult) and in how a layer's output is traced. Each
family is one implementation of `Backend`; `backend_for(name)` picks it by the name hls4ml gives the backend
(the names are listed once, in hlsdiff/backends.py). Vivado and Vitis share the first implementation: hls4ml
writes Vitis projects with Vivado's templates and `ap_types`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hlsdiff.backends import COMPARED, DEFAULT
from hlsdiff.errors import NotAProject
from hlsdiff.fixedpoint import FixedType, parse_ac_type, parse_type
from hlsdiff.project.adapter import writer


class Backend(Protocol):
    """One backend family: what the build, the precompiled header, the type reader and the tracing ask of it."""

    @property
    def family(self) -> str:
        """The family's name (the hls4ml backend whose templates it uses)."""
        ...

    @property
    def type_headers(self) -> str:
        """The folder under firmware/ that holds the arbitrary-precision type headers hls4ml copies in."""
        ...

    @property
    def precompiled(self) -> tuple[str, ...]:
        """The type headers every project includes first, which a precompiled header may hold; () for none."""
        ...

    def include_dirs(self, project_dir: Path) -> list[Path]:
        """g++'s include folders for the project, in order."""
        ...

    def template_firmware(self, hls4ml_root: Path) -> Path:
        """The firmware/ of hls4ml's templates for this family (its type headers are what projects get)."""
        ...

    def parse_type(self, text: str | None) -> FixedType | None:
        """A type as this family writes it, in the one FixedType; None for a type with no fixed resolution."""
        ...

    def traced(self, top: str, bridge: str, layers: dict[str, list[writer.Traced]]) -> tuple[str, str, bool] | None:
        """The two translation units with a trace call after each layer's call and the storage the bridge reads
        them from, where they have none: (top, bridge, added), or None when the bridge cannot take them."""
        ...


@dataclass(frozen=True)
class VivadoFamily:
    """hls4ml 1.3.0's Vivado and Vitis projects: `ap_types`, `ap_fixed<W,I,Q,O>`, `nnet::save_layer_output`."""

    family: str = 'Vivado'
    type_headers: str = 'ap_types'
    precompiled: tuple[str, ...] = ('ap_fixed.h', 'ap_int.h', 'hls_stream.h')

    def include_dirs(self, project_dir: Path) -> list[Path]:
        firmware = Path(project_dir) / writer.FIRMWARE
        return [firmware / self.type_headers, firmware, Path(project_dir)]

    def template_firmware(self, hls4ml_root: Path) -> Path:
        return Path(hls4ml_root) / 'templates' / 'vivado'

    def parse_type(self, text: str | None) -> FixedType | None:
        return parse_type(text)

    def traced(self, top: str, bridge: str, layers: dict[str, list[writer.Traced]]) -> tuple[str, str, bool] | None:
        added = not writer.has_trace_calls(top)
        top = writer.with_trace_calls(top, layers) if added else top
        stored = with_storage(bridge, layers)
        return None if stored is None else (top, stored[0], added or stored[1])


def with_storage(bridge: str, layers: dict[str, list[writer.Traced]]) -> tuple[str, bool] | None:
    """The bridge with storage for every traced value (and whether it was added), as every family keeps it;
    None when the bridge cannot take it."""
    if writer.has_trace_storage(bridge):
        return bridge, False
    extended = writer.with_trace_storage(bridge, [t for traced in layers.values() for t in traced])
    return None if extended is None else (extended, True)


@dataclass(frozen=True)
class QuartusFamily:
    """hls4ml 1.3.0's Quartus projects: `ac_types` (shipped with hls4ml), `ac_fixed<W,I,S,Q,O>`, weights compiled
    in from `weights/<name>.h`, trace calls guarded by HLS_SYNTHESIS and written anew after each layer's call (in
    io_stream hls4ml's own trace the output stream under every name). No precompiled header: the one hlsdiff
    makes holds `ap_types`."""

    family: str = 'Quartus'
    type_headers: str = 'ac_types'
    precompiled: tuple[str, ...] = ()

    def include_dirs(self, project_dir: Path) -> list[Path]:
        firmware = Path(project_dir) / writer.FIRMWARE
        return [firmware / self.type_headers, firmware / 'ap_types', firmware, Path(project_dir)]

    def template_firmware(self, hls4ml_root: Path) -> Path:
        return Path(hls4ml_root) / 'templates' / 'quartus'

    def parse_type(self, text: str | None) -> FixedType | None:
        return parse_ac_type(text)

    def traced(self, top: str, bridge: str, layers: dict[str, list[writer.Traced]]) -> tuple[str, str, bool] | None:
        new_top = writer.with_trace_calls_after_writers(top, layers)
        stored = with_storage(bridge, layers)
        return None if stored is None else (new_top, stored[0], new_top != top or stored[1])


@dataclass(frozen=True)
class CatapultFamily:
    """hls4ml 1.3.0's Catapult projects: Vivado's layout (weights loaded from .txt, `// layer` after each call,
    trace calls after them) with `ac_fixed<W,I,S,Q,O>` from the ac_types, ac_math and ac_simutils hls4ml ships,
    and a top function `void CCS_BLOCK(name)(`. No precompiled header: the one hlsdiff makes holds `ap_types`."""

    family: str = 'Catapult'
    type_headers: str = 'ac_types'
    precompiled: tuple[str, ...] = ()

    def include_dirs(self, project_dir: Path) -> list[Path]:
        firmware = Path(project_dir) / writer.FIRMWARE
        return [*(firmware / lib / 'include' for lib in ('ac_types', 'ac_math', 'ac_simutils')),
                firmware / writer.NNET_UTILS, firmware, Path(project_dir)]

    def template_firmware(self, hls4ml_root: Path) -> Path:
        return Path(hls4ml_root) / 'templates' / 'catapult'

    def parse_type(self, text: str | None) -> FixedType | None:
        return parse_ac_type(text)

    def traced(self, top: str, bridge: str, layers: dict[str, list[writer.Traced]]) -> tuple[str, str, bool] | None:
        return VIVADO.traced(top, bridge, layers)


VIVADO = VivadoFamily()
QUARTUS = QuartusFamily()
CATAPULT = CatapultFamily()
# every backend hlsdiff compares (COMPARED), by the name hls4ml gives it; a --project hls4ml wrote for
# VivadoAccelerator (Vivado's templates, a board's wrapper around them) builds as Vivado's
FAMILIES: dict[str, Backend] = {'Vivado': VIVADO, 'Vitis': VIVADO, 'VivadoAccelerator': VIVADO, 'Quartus': QUARTUS,
                              'Catapult': CATAPULT}


def backend_for(name: str | None) -> Backend:
    """The family of the backend hls4ml calls `name` (None: the default, Vivado); a project of a backend hlsdiff
    does not compare is NotAProject (exit 2), in one line."""
    if name is None:
        return FAMILIES[DEFAULT]
    for known, family in FAMILIES.items():
        if known.lower() == str(name).lower():
            return family
    raise NotAProject(f'a {name} project: hlsdiff compares {", ".join(COMPARED)} projects '
                      '(docs/backends.md)')


def family_of_project(project_dir: Path) -> str:
    """The backend family of the project in `project_dir`, by the Backend its hls4ml_config.yml names (Vivado's
    when it names none or cannot be read)."""
    path = Path(project_dir) / writer.CONFIG_FILE
    try:
        name = writer.read_config(path.read_text(errors='replace')).get('Backend')
        return backend_for(name).family
    except (OSError, ValueError, NotAProject):
        return VIVADO.family
