"""The stages below the engine, whatever the frontend: model files and data (load.py), hls4ml's conversion with
Trace on every layer (convert.py), the mapping's shared parts (mapping.py), the conversion cache, the stages the
engine runs (pipeline.py, plan.py) and the C-simulation in child processes (run.py, csim_runner.py; on a Dask
cluster, cluster_run.py). The Keras 2 frontend's own code is in hlsdiff/frontends/ (keras2*.py); trace/ imports
neither the frontends nor the request.

Nothing here imports TensorFlow or hls4ml at import time; `hlsdiff.trace.stack` does,
when a command first needs them.
"""
