"""A precompiled header of what every hls4ml project includes first: ap_types.

Parsing `ap_fixed.h`, `ap_int.h`, `hls_stream.h` and the C++23 standard library under them
is a fixed cost of every translation unit. hlsdiff compiles them once into a GCC
precompiled header, in the background while TensorFlow is being imported (that leaves a
core idle), keyed by the headers' bytes, the flags and the compiler; the library build then
loads it instead of parsing them again. It is only used when every ap_types file it was
built from is byte-for-byte the project's own (a `--project` gets one built from its own),
and a failure to build it only means the build runs without it.

Only ap_types, not nnet_utils: ap_types (with the standard library under it) is most of
what each unit parses, while the nnet_utils core adds little parsing but a quarter of the
cost of writing the header (GCC takes longer to write a precompiled header than to parse
one), so without it the header is ready about a second sooner, in time for the build more
often. The project's own nnet_utils headers, possibly edited or patched, are always parsed
from the project (hls4ml 1.3.0's nnet_sepconv1d_latency.h and nnet_sepconv2d_latency.h even
share an include guard, so force-including one that the project does not include could
change what it means).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from hlsdiff.csim import processes as children
from hlsdiff.csim.compile import GC_PARAMS
from hlsdiff.errors import NotAProject
from hlsdiff.project.backend import VIVADO, backend_for

HEADER = 'hlsdiff_pch.h'
# The header is made of the Vivado family's type headers (hlsdiff/project/backend.py): what myproject.h includes
# before anything else; every project of that family includes all three. Other families get none.
FAMILY = VIVADO
AP_TYPES = FAMILY.precompiled
HEADER_TEXT = '\n'.join(['// hlsdiff: precompiled header (see hlsdiff/csim/pch.py)',
                         *(f'#include "{FAMILY.type_headers}/{h}"' for h in AP_TYPES)]) + '\n'


@dataclass(frozen=True)
class Pch:
    folder: Path
    files: dict  # path under firmware/ -> sha256 of the bytes it was built from

    @property
    def flags(self) -> list[str]:
        return ['-include', str(self.folder / HEADER), '-Winvalid-pch']

    def fits(self, firmware: Path, top_cpp: str, bridge_cpp: str) -> bool:
        """True if the project compiles to the same thing with this header force-included."""
        if _defines_macros(top_cpp) or _defines_macros(bridge_cpp):
            return False
        own = [top_cpp, bridge_cpp]
        for path in firmware.glob('*.h'):
            try:
                own.append(path.read_text(errors='replace'))
            except OSError:
                pass
        included = {name.rsplit('/', 1)[-1] for text in own for name in re.findall(r'#\s*include\s*["<]([^">]+)[">]', text)}
        if not set(AP_TYPES) <= included:
            return False
        for rel, digest in self.files.items():
            path = firmware / rel
            try:
                if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    return False
            except OSError:
                return False
        return True


def template_headers(backend: str) -> dict[str, Path] | None:
    """The type headers hls4ml copies into a project for this backend, by path under firmware/; None when the
    backend is not of the family the header is made for."""
    try:
        family = backend_for(backend)
    except NotAProject:
        return None
    if family != FAMILY:
        return None
    spec = importlib.util.find_spec('hls4ml')  # does not import hls4ml
    if spec is None or not spec.submodule_search_locations:
        return None
    return project_headers(family.template_firmware(Path(list(spec.submodule_search_locations)[0])))


def project_headers(firmware: Path) -> dict[str, Path]:
    """The type headers under `firmware` (a project's, or hls4ml's templates)."""
    types = firmware / FAMILY.type_headers
    return {f'{FAMILY.type_headers}/{p.relative_to(types)}': p for p in sorted(types.rglob('*')) if p.is_file()}


@dataclass(frozen=True)
class Compiler:
    """What a header is compiled with: the flags, the compiler's command and its identity (in the cache key)."""

    flags: list[str]
    cxx: str
    identity: str


def ensure(headers: dict[str, Path], compiler: Compiler, cache_dir: Path, stop: threading.Event | None = None,
           build: bool = True, launched: threading.Event | None = None, notes: list[str] | None = None) -> Pch | None:
    """The precompiled header for these headers, compiled with `compiler` and its flags: from the cache,
    or built now (unless `build` is False; `launched` is set once the compiler runs).

    None if it cannot be built, or if `stop` is set first: the compiler then goes on on its
    own, at the lowest priority, and the header is there for the next build.
    """
    flags, cxx = compiler.flags, compiler.cxx
    contents = {rel: path.read_bytes() for rel, path in headers.items()}
    root = Path(cache_dir) / 'pch'
    final = root / _key(contents, flags, compiler.identity)
    if (final / 'manifest.json').exists():
        os.utime(final)
        return _load(final, notes)
    if not build:
        return None
    work = _stage(root, contents)
    if work is None:
        return None
    # -I of its own ap_types copy: if GCC ever rejects the .gch it parses the same headers.
    # The folder is renamed into place only once the header is complete: atomic, and a
    # concurrent compare that won the race keeps its copy (the loser's is trimmed later).
    compile_cmd = [cxx, *flags, *GC_PARAMS, f'-I{work / FAMILY.type_headers}', f'-I{work}', '-x', 'c++-header',
                   str(work / HEADER), '-o', str(work / f'{HEADER}.gch')]
    # A failed build, or the loser of a race with another compare, removes its folder itself:
    # nobody may be waiting for it any more.
    script = ('"$@" >/dev/null 2>&1 || { rm -rf "$HLSDIFF_WORK"; exit 3; }; '
              'sha256sum "$HLSDIFF_WORK/hlsdiff_pch.h.gch" | cut -c1-64 > "$HLSDIFF_WORK/gch.sha256" && '
              'mv -T "$HLSDIFF_WORK" "$HLSDIFF_FINAL" 2>/dev/null || '
              '{ [ -e "$HLSDIFF_FINAL/manifest.json" ] && rm -rf "$HLSDIFF_WORK"; exit 4; }')
    env = dict(os.environ, HLSDIFF_WORK=str(work), HLSDIFF_FINAL=str(final), TMPDIR=str(work))
    # Its own process group, so that it can be given the lowest priority as a whole; not its
    # own session: with the kernel's autogroup scheduling a session shares the CPU as one
    # unit, nice or not, and a header left to finish would take a core from the library build.
    try:
        proc = children.popen(['sh', '-c', script, 'sh', *compile_cmd], owns=work, env=env, process_group=0,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        return None
    if launched is not None:
        launched.set()
    while proc.poll() is None:
        if stop is not None and stop.wait(0.05):
            try:  # not waited for any more: it must not slow down the library build
                os.setpriority(os.PRIO_PGRP, proc.pid, 19)
            except OSError:
                pass
            return None
    if proc.returncode == 4 and not (final / 'manifest.json').exists():
        try:  # built, but this system's mv has no -T
            os.rename(work, final)
        except OSError:
            pass
    shutil.rmtree(work, ignore_errors=True)  # a failed build, or the loser of a race
    return _load(final, notes) if (final / 'manifest.json').exists() else None


def _key(contents: dict[str, bytes], flags: list[str], compiler: str) -> str:
    """The cache key of a precompiled header: the compiler, its flags, the header text and every header."""
    h = hashlib.sha256()
    for part in (compiler, '\0'.join(flags), HEADER_TEXT):
        h.update(part.encode() + b'\0')
    for rel in sorted(contents):
        h.update(rel.encode() + b'\0' + hashlib.sha256(contents[rel]).digest())
    return h.hexdigest()[:32]


def _stage(root: Path, contents: dict[str, bytes]) -> Path | None:
    """A new folder under `root` with the headers, the umbrella header and its manifest (None if it
    cannot be written)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix='tmp-', dir=root))
        for rel, data in contents.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes(data)
        (work / HEADER).write_text(HEADER_TEXT)
        files = {rel: hashlib.sha256(data).hexdigest() for rel, data in contents.items()}
        (work / 'manifest.json').write_text(json.dumps({'files': files}))
    except OSError:
        return None
    return work


def _load(folder: Path, notes: list[str] | None = None) -> Pch | None:
    """The header in `folder`, if the .gch is byte for byte what the compiler wrote (its hash
    was recorded then: 0.06 s for 90 MB); a damaged one is removed, noted, and built again."""
    try:
        files = json.loads((folder / 'manifest.json').read_text())['files']
        with open(folder / f'{HEADER}.gch', 'rb') as f:
            ok = (folder / 'gch.sha256').read_text().strip() == hashlib.file_digest(f, 'sha256').hexdigest()
    except (OSError, ValueError, KeyError):
        ok = False
    if ok:
        return Pch(folder, files)
    if notes is not None:
        notes.append(f'the cached precompiled header {folder.name} was damaged: removed (built again by a '
                     'later compare)')
    shutil.rmtree(folder, ignore_errors=True)
    return None


_GUARD = re.compile(r'#\s*ifndef\s+(\w+)\s*\n\s*#\s*define\s+\1\b')


def _defines_macros(text: str) -> bool:
    """A macro defined in the translation unit before its includes could change what the
    headers mean; include guards are the only #define an hls4ml source has."""
    guards = set(_GUARD.findall(text))
    for name in re.findall(r'^\s*#\s*(?:define|undef)\s+(\w+)', text, re.M):
        if name not in guards:
            return True
    return False
