"""A candidate reproducer: framework layers cut out of the model, their C-simulation inputs, the reduced
config, written into a folder and run with hls4ml alone."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.errors import BadInput
from hlsdiff.layers import Collected
from hlsdiff.repro import confirm
from hlsdiff.repro.config import reduced
from hlsdiff.repro.frontend import ReproFrontend, ScriptFacts
from hlsdiff.repro.target import Target

INPUT_NAME = 'repro_input'


@dataclass
class Source:
    """What every candidate is cut from."""

    model: Any  # the user's model, loaded
    frontend: ReproFrontend
    collected: Collected | None  # None when the C-simulation aborted
    samples: np.ndarray  # the model's input data, all samples
    chosen: np.ndarray  # the indices of the samples that show the defect
    hls: dict  # the HLSConfig the compare converted with
    settings: dict  # IOType, Backend, Part
    suffix: str  # the user's model format
    kernels: list[Path]  # edited kernel headers of the user's project
    weights: list[tuple[Path, str, str]]  # edited weights files of the user's project: (file, hls4ml layer, prefix)


@dataclass
class Candidate:
    layers: list[str]
    folder: Path
    confirmed: confirm.Confirmed
    config: dict
    data: np.ndarray
    model: Any  # the cut model


def kept_rows(src: Source) -> np.ndarray:
    """The rows of the compare's kept arrays that hold the chosen samples (the same indices unless many
    samples streamed and the compare kept some of them)."""
    kept = src.collected.kept_samples if src.collected is not None else None
    if kept is None:
        return src.chosen
    where = {int(sample): row for row, sample in enumerate(kept)}
    return np.array([where[int(i)] for i in src.chosen], dtype=np.int64)


def cut_input(src: Source, first: str) -> tuple[np.ndarray, str | None]:
    """The values that feed `first` in the C-simulation for the chosen samples (the framework's own values
    where hls4ml traced none), and the type they had."""
    feeding = src.frontend.input_of(src.model, first)
    if feeding == '':
        raise BadInput(f'{first} has several inputs: repro cuts single-input chains only')
    infos = src.collected.layers if src.collected is not None else []
    if feeding is None:
        info = next((i for i in infos if i.class_name == 'Input'), None) if len(src.model.inputs) == 1 else None
    else:
        info = next((i for i in infos if i.keras == feeding), None)
    arrays = src.collected.arrays.get(info.name) if info is not None and src.collected is not None else None
    shape = src.frontend.input_shape(src.model, first)
    if arrays is not None and arrays.actual is not None:
        values = np.asarray(arrays.actual, np.float64)[kept_rows(src)]
        values = src.frontend.from_csim(src.model, values.reshape(len(src.chosen), -1), first)
    else:
        values = src.frontend.values(src.model, src.samples[src.chosen], feeding)
    return values.reshape((len(src.chosen), *shape)), info.result_type if info is not None else None


def try_cut(src: Source, target: Target, layers: list[str], folder: Path, scratch: Path) -> Candidate:
    """Write the candidate into `folder` and run its repro.py in a fresh process."""
    data, input_type = cut_input(src, layers[0])
    model = src.frontend.cut(src.model, layers, INPUT_NAME)
    others = set(src.frontend.layer_names(src.model)) - set(layers)
    config = reduced(src.hls, src.settings, layers + [target.layer], INPUT_NAME, input_type, others)
    write(src, target, model, data, config, folder)
    return Candidate(layers, folder, confirm.run(folder, scratch), config, data, model)


def try_prefix(src: Source, target: Target, folder: Path, scratch: Path) -> Candidate:
    """The model from its input to the layer, on the chosen samples: the smallest failing model when no cut
    reproduces (an interaction with the layers before)."""
    model = src.frontend.prefix(src.model, target.keras_layers[-1])
    names = src.frontend.layer_names(model)
    others = set(src.frontend.layer_names(src.model)) - set(names)
    config = reduced(src.hls, src.settings, names + [target.layer], '', None, others)
    data = np.asarray(src.samples[src.chosen], np.float64)
    write(src, target, model, data, config, folder)
    return Candidate(names, folder, confirm.run(folder, scratch), config, data, model)


def write(src: Source, target: Target, model, data: np.ndarray, config: dict, folder: Path) -> None:
    import yaml

    folder.mkdir(parents=True)
    model_file = src.frontend.save(model, folder, src.suffix)
    np.save(folder / 'data.npy', data)
    (folder / 'config.yml').write_text(yaml.safe_dump(config, sort_keys=False))
    title = f'hls4ml: {target.class_name} {target.layer}'
    (folder / 'repro.py').write_text(src.frontend.script(script_facts(src, model_file, title, target), model))
    for sub, files in (('nnet_utils', src.kernels), ('weights', [w[0] for w in src.weights])):
        if files:
            (folder / sub).mkdir()
            for path in files:
                shutil.copy2(path, folder / sub / path.name)


def script_facts(src: Source, model_file: str, title: str, target: Target) -> ScriptFacts:
    weights = tuple((path.name, layer, prefix) for path, layer, prefix in src.weights)
    return ScriptFacts(model_file, title, target.tolerance, bool(src.kernels), weights)
