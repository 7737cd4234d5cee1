"""`hlsdiff repro`: from a proven defect to a minimal, self-contained hls4ml bug report.

The layer is cut out of the model (with what hls4ml fuses into it), fed the values that reach it in
the C-simulation, converted with the user's settings reduced to its entries, and confirmed with
hls4ml alone in a fresh process before anything is written: DIR/ holds the model, data.npy,
config.yml, repro.py and ISSUE.md. The framework-specific steps sit behind `frontend.ReproFrontend`.
"""

from hlsdiff.repro.job import Compared, check_out_dir, write_repro

__all__ = ['Compared', 'check_out_dir', 'write_repro']
