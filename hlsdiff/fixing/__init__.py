"""`hlsdiff fix`: compare, search config changes by prediction, confirm with the C-simulation.

Each round runs the real C-simulation of the current config (the compare, rounds.py). Then the search
(search.py) tries config changes by prediction: hls4ml converts and writes the project for each
candidate config, and the emulation runs it from the input data to the model outputs (predict.py);
the changes that meet the user's gate with the fewest bits added are applied (search_round.py). The
next round's C-simulation confirms them: predicted vs measured, per changed layer and per output, a
miss beyond the tolerance reported as an emulation bug; the changes are kept only if the C-simulation
shows they helped. Where the emulation cannot reach the outputs, the compare's own per-layer remedies
are applied and confirmed instead (changes.py). What configuration cannot cure (a kernel defect, a
Keras setting hls4ml drops) is listed with the reason. `--minimize` shrinks the widened types
afterwards (minimize.py); the config is written in hls4ml's layout (config_file.py).

Nothing here prints: the CLI (job.run_fix) and the API (api.fix) render the result
(reports/fix_report.py).
"""
