"""hls4ml 1.3.0's kernels (Vivado/Vitis, io_parallel and io_stream), as integer numpy.

Each module here registers the nnet:: functions it emulates (`base.register`): a kernel is a
`compute(EmulatedCall) -> Fx` that takes the call, its program (types, config structs, weights) and
the exact values of its inputs, one row per sample in the kernel's own flat channels-last layout,
and returns the exact values the kernel writes. A kernel or setting not written here raises
`NotEmulated` with the reason: it is never guessed. A new layer kind is a new module in this
folder: every module is imported here, so its `@register` is all it takes.
"""

from __future__ import annotations

import importlib
import pkgutil

from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register, registered, run

for _module in pkgutil.iter_modules(__path__):
    if _module.name != 'base':
        importlib.import_module(f'{__name__}.{_module.name}')

__all__ = ['EmulatedCall', 'NotEmulated', 'register', 'registered', 'run']
