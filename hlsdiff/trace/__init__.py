"""Getting the two sets of per-layer outputs: load, convert, build, run, map.

Nothing here imports TensorFlow or hls4ml at import time; `hlsdiff.trace.stack` does,
when a command first needs them.
"""
