"""Child process: run the C-simulation library on the samples and collect every traced layer.

Run as `python -m hlsdiff.trace.csim_runner SPEC.json`. It imports only numpy and ctypes,
so it starts in a fraction of a second, and a C++ `assert` that aborts kills this process,
not hlsdiff. hls4ml's own `trace()` sizes its result buffer by the number of output
variables but the library keys traces by layer name, so layers with several outputs (the
Clone layers of io_stream) leave empty slots and crash it; here the slots are counted.
"""

from __future__ import annotations

import ctypes
import json
import sys

import numpy as np
import numpy.ctypeslib as npc


class TraceData(ctypes.Structure):
    _fields_ = [('name', ctypes.c_char_p), ('data', ctypes.c_void_p)]


def run(spec: dict) -> None:
    lib = ctypes.cdll.LoadLibrary(spec['library'])
    inputs = [np.load(p) for p in spec['inputs']]
    n_samples = int(inputs[0].shape[0])
    out_sizes = spec['output_sizes']
    traced = spec['traced']  # {layer name: size}

    top = getattr(lib, spec['function'])
    top.restype = None
    top.argtypes = [npc.ndpointer(ctypes.c_double, flags='C_CONTIGUOUS')] * (len(inputs) + len(out_sizes))
    lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
    lib.allocate_trace_storage.restype = None
    lib.collect_trace_output.argtypes = [ctypes.POINTER(TraceData)]
    lib.collect_trace_output.restype = None
    lib.free_trace_storage.argtypes = []
    lib.free_trace_storage.restype = None

    # with `chunk`, the results go to one file per chunk of samples (result-00000.npz, ...), so that
    # memory does not grow with the sample count
    chunk = int(spec.get('chunk') or n_samples)
    results = {name: np.zeros((min(chunk, n_samples), size)) for name, size in traced.items()}
    outputs = [np.zeros((min(chunk, n_samples), size)) for size in out_sizes]
    written = 0
    slots = (TraceData * (2 * len(traced) + 8))()
    lib.allocate_trace_storage(ctypes.sizeof(ctypes.c_double))
    try:
        for i in range(n_samples):
            args = [np.ascontiguousarray(x[i].reshape(-1)) for x in inputs]
            preds = [np.zeros(size) for size in out_sizes]
            top(*args, *preds)
            row = i - written
            for k, pred in enumerate(preds):
                outputs[k][row] = pred
            ctypes.memset(slots, 0, ctypes.sizeof(slots))
            lib.collect_trace_output(slots)
            for slot in slots:
                if not slot.name:
                    break
                name = slot.name.decode()
                if name in results:
                    size = traced[name]
                    buf = ctypes.cast(slot.data, ctypes.POINTER(ctypes.c_double))
                    results[name][row] = np.ctypeslib.as_array(buf, shape=(size,))
            if (i + 1) % max(1, n_samples // 20) == 0:
                print(f'progress {i + 1} {n_samples}', file=sys.stderr, flush=True)
            if spec.get('chunk') and (row + 1 == chunk or i + 1 == n_samples):
                _save(spec['result'].replace('.npz', f'-{written // chunk:05d}.npz'), results, outputs, row + 1)
                written = i + 1
    finally:
        lib.free_trace_storage()
    if not spec.get('chunk'):
        _save(spec['result'], results, outputs, n_samples)


def _save(path: str, results: dict, outputs: list, rows: int) -> None:
    payload = {f'trace:{k}': v[:rows] for k, v in results.items()}
    payload['peak_kb'] = np.array(_own_peak_kb())
    payload.update({f'output:{k}': v[:rows] for k, v in enumerate(outputs)})
    tmp = path + '.part.npz'
    np.savez(tmp, **payload)
    import os

    os.replace(tmp, path)  # a reader sees a chunk whole or not at all


def _own_peak_kb() -> int:
    """This process image's peak RSS (VmHWM: not the pages of the parent it was forked from)."""
    try:
        with open('/proc/self/status') as f:
            return next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))
    except (OSError, StopIteration, ValueError):
        return 0


if __name__ == '__main__':
    with open(sys.argv[1]) as f:
        run(json.load(f))
