"""What-ifs through hls4ml's own conversion: a config change, predicted to the model outputs.

A what-if is a whole hls4ml config. hls4ml converts the (already loaded) Keras model with it
and writes the project (no g++): so every type hls4ml derives from the change (the linear
layer it splits from a Dense, a softmax's internal types, `auto` results downstream, a fold
it does or does not do) is in the project as hls4ml would build it. The emulation reads that
project (`emulate.read_program`) and computes its layers from the input data, each layer fed
the previous layers' emulated values, to the model outputs. Compared with Keras, that is the
predicted effect: per output (top-1 agreement, max abs) and per layer.

Where a layer on the way is not emulated, the prediction says so (`complete` is False) and
the caller confirms with the C-simulation instead.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.diff import OutputAccumulator, classifier_shaped, diff, status_of
from hlsdiff.emulate import Emulator, NotEmulated, arith, read_program
from hlsdiff.errors import ConversionFailed
from hlsdiff.fixedpoint import parse_type
from hlsdiff.project import writer
from hlsdiff.rounding import predicted_range_events

# a prediction agrees with the C-simulation when it is off by at most this share, or one LSB
TOLERANCE = 0.10


@dataclass(frozen=True)
class OutputPrediction:
    """One model output as the emulation predicts it, against Keras."""

    name: str  # the hls4ml layer that writes it
    top1_agreement: float | None  # classifier-shaped outputs only
    max_abs: float
    mean_abs: float
    lsb: float  # the output type's resolution
    value_range: float  # Keras's range of this output (max - min), for relative gates
    status: str = 'ok'  # ok | noise | mismatch, by the compare's own policy

    def to_json(self) -> dict:
        return {'name': self.name, 'top1_agreement': self.top1_agreement, 'max_abs': self.max_abs,
                'mean_abs': self.mean_abs, 'lsb': self.lsb}


@dataclass(frozen=True)
class LayerPrediction:
    """One layer's emulated values against Keras's (where the compare mapped it)."""

    max_abs: float
    max_lsb: float | None
    mismatched_fraction: float
    status: str  # ok | noise | mismatch, by the compare's own policy (diff.status_of)
    scale: float  # Keras's largest |value| of this layer
    tolerance: float  # the element tolerance the status used
    beyond: int = 0  # an input's elements beyond one LSB of its data: values its type does not hold (docs/gate.md)


@dataclass(frozen=True)
class TopOneFrame:
    """How a prediction on the compare's kept rows (its first chunk, then samples wrong beyond it) stands for
    all of its samples, for one classifier output's top-1 rate: the first chunk is exact and stands for the
    samples the compare found right, at the rate its right rows flip; the wrong rows kept stand for every
    sample the compare found wrong beyond the first chunk, at the rate they flip."""

    total: int  # the compare's samples
    first: np.ndarray  # per kept row: in the first chunk
    was_wrong: np.ndarray  # per kept row: its top-1 flipped in the compare
    wrong_outside: int  # samples beyond the first chunk whose top-1 flipped in the compare

    @property
    def rows(self) -> int:
        return int(self.first.size)

    def agreement(self, flipped: np.ndarray) -> float:
        """The top-1 agreement over every sample, from the flips predicted on the kept rows."""
        first, extra = self.first, ~self.first
        right = first & ~self.was_wrong
        right_rate = float(flipped[right].mean()) if right.any() else 0.0
        wrong_rows = extra if extra.any() else first & self.was_wrong
        wrong_rate = float(flipped[wrong_rows].mean()) if wrong_rows.any() else 0.0
        rest = max(self.total - int(first.sum()) - self.wrong_outside, 0)
        flips = float(flipped[first].sum()) + right_rate * rest + wrong_rate * self.wrong_outside
        return 1.0 - flips / max(self.total, 1)


@dataclass(frozen=True)
class Prediction:
    """The predicted effect of one config: per output, per layer."""

    outputs: tuple[OutputPrediction, ...]
    layers: dict[str, LayerPrediction] = field(default_factory=dict)
    types: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> its types in the written project
    not_emulated: dict[str, str] = field(default_factory=dict)  # layer -> why: the prediction is incomplete
    seconds: float = 0.0
    samples: int = 0  # how many samples it covers (the compare's kept rows; the measurement may cover more)

    @property
    def complete(self) -> bool:
        return not self.not_emulated and bool(self.outputs)

    def output(self, name: str) -> OutputPrediction | None:
        return next((o for o in self.outputs if o.name == name), None)

    def to_json(self) -> dict:
        return {'outputs': [o.to_json() for o in self.outputs], 'complete': self.complete,
                'not_emulated': dict(self.not_emulated)}


def within_tolerance(predicted: float, measured: float, lsb: float) -> bool:
    """A prediction that is off by at most 10% of the measured value, or one LSB of the output type."""
    return abs(predicted - measured) <= max(TOLERANCE * abs(measured), lsb * (1 + 1e-9))


class Predictor:
    """Converts, writes and emulates configs of one loaded model on fixed samples.

    A Keras 2 model is converted with hls4ml's Keras converter and its outputs predicted by Keras; another
    frontend's model (`keras_model` None) with `convert` (the frontend's hls4ml call), its inputs laid out
    as the C-simulation takes them (`input_layout`: the frontend's csim_layout), and its outputs are the
    framework's values of the output layers the compare mapped (`expected_layers`)."""

    def __init__(self, keras_model, x: tuple[np.ndarray, ...], settings: dict,
                 expected_layers: dict[str, np.ndarray] | None = None, softmax_outputs: tuple[str, ...] = (),
                 convert: Callable[..., Any] | None = None,
                 input_layout: Callable[[Any], dict[str, tuple[int, ...]]] | None = None):
        self.model = keras_model
        self.x = tuple(np.asarray(a, dtype=np.float64) for a in x)
        self.settings = dict(settings)
        self.expected_layers = expected_layers or {}
        self.softmax_outputs = softmax_outputs
        self._convert = convert
        self._input_layout = input_layout
        self.keras_outputs: list[np.ndarray] | None = None
        if keras_model is not None:
            raw = keras_model.predict(list(self.x) if len(self.x) > 1 else self.x[0], verbose=0)
            self.keras_outputs = [np.asarray(o, dtype=np.float64) for o in (raw if isinstance(raw, list) else [raw])]
        self.evaluated = 0
        # output -> how its kept rows stand for all of the compare's samples (TopOneFrame)
        self.frame: dict[str, TopOneFrame] = {}
        self.compared_layers: set[str] | None = None  # the layers of the first (the compared) config's project
        self._scratch = Path(tempfile.mkdtemp(prefix='hlsdiff-whatif-'))

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    def predict(self, config: dict) -> Prediction:
        """Convert and write the project for `config` (hls4ml, no g++), emulate it to the outputs."""
        started = time.perf_counter()
        self.evaluated += 1
        folder = self._scratch / f'w{self.evaluated}'
        hls_model = self._write(config, folder)
        try:
            program = read_program(folder / 'firmware', 'myproject')
            inputs = self._inputs(hls_model)
            emulator, values, missing = _chain(program, inputs)
            outputs = self._outputs(hls_model, program, values)
            types = {name: _types(emulator, name) for name in values}
            for call in program.calls:  # the kernel each layer calls: which keys it reads
                types.setdefault(call.layer or '', {})['kernel'] = call.function
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if self.compared_layers is None:
            self.compared_layers = {c.layer for c in program.calls if c.layer}
        moved = _unfolded(program, self.compared_layers)
        layers = {name: self._layer(values[name], types[name].get('result'), self.expected_layers[name], name in inputs)
                  for name in values if name in self.expected_layers and name not in moved
                  and self.expected_layers[name].size == values[name].size}
        for name, layer in layers.items():
            if name not in inputs and layer.status != 'ok':  # where a type's range moved a value (docs/gate.md)
                t = parse_type(types[name].get('result'))
                events = predicted_range_events(emulator, name, values[name], self.expected_layers[name],
                                                layer.tolerance, t.lsb if t is not None else None)
                layers[name] = dataclasses.replace(layer, beyond=events) if events else layer
        return Prediction(tuple(outputs), layers, types, missing, round(time.perf_counter() - started, 3),
                          int(self.x[0].shape[0]) if self.x else 0)

    @staticmethod
    def _layer(values: np.ndarray, result: str | None, expected: np.ndarray, is_input: bool = False) -> LayerPrediction:
        t = parse_type(result) if result else None
        lsb = t.lsb if t is not None else None
        stats = diff(expected, values.reshape(expected.shape), lsb)
        beyond = 0
        if is_input and lsb:  # the data stored in the input type: one LSB, or the value does not fit
            beyond = int(np.count_nonzero(np.abs(values.reshape(expected.shape) - expected) > lsb * (1 + 1e-9)))
        return LayerPrediction(stats.max_abs, stats.max_lsb, stats.mismatched_fraction, status_of(stats, lsb),
                               stats.scale, stats.tolerance, beyond)

    def effect(self, config: dict, remedies) -> Prediction:
        """The predicted effect of applying `remedies` (remedy.Remedy) to `config`."""
        from hlsdiff.remedy import applied

        return self.predict(applied(config, list(remedies)))

    def _write(self, config: dict, folder: Path):
        from hlsdiff.trace import stack
        from hlsdiff.trace.convert import Converted, write_project

        kwargs = {'hls_config': copy.deepcopy(config), 'output_dir': str(folder), 'project_name': 'myproject',
                  'backend': self.settings.get('backend') or 'Vivado', 'io_type': self.settings.get('io_type') or 'io_parallel'}
        if self.settings.get('part'):
            kwargs['part'] = self.settings['part']
        try:
            # what hls4ml says of a candidate config (printed or warned) is not the user's: a change that is
            # kept is converted again by the confirming compare, whose notes carry hls4ml's words
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter('ignore')
                if self._convert is not None:
                    hls_model = self._convert(**kwargs)
                else:
                    hls_model = stack.load().hls4ml.converters.convert_from_keras_model(self.model, **kwargs)
        except Exception as exc:  # hls4ml rejects this config: the what-if is not a candidate
            text = str(exc).strip() or type(exc).__name__
            raise ConversionFailed(f'hls4ml could not convert with this config: {text.splitlines()[0]}') from None
        write_project(Converted(hls_model, config), model_in_yml=False)
        return hls_model

    def _inputs(self, hls_model) -> dict[str, np.ndarray]:
        names = [writer.plain_var(v.name) for v in hls_model.get_input_variables()]  # Quartus: inputs.x
        layout = self._input_layout(hls_model) if self._input_layout is not None else {}
        by_layer = {layer.get_output_variable().name: layer.name for layer in hls_model.get_layers()
                    if layer.class_name == 'Input'}
        out = {}
        for name, a in zip(names, self.x):
            perm = layout.get(by_layer.get(name, name))
            moved = np.transpose(a, perm) if perm is not None and len(perm) == a.ndim else a
            out[name] = np.ascontiguousarray(moved).reshape(a.shape[0], -1)
        return out

    def _outputs(self, hls_model, program, values: dict[str, np.ndarray]) -> list[OutputPrediction]:
        out = []
        for k, var in enumerate(hls_model.get_output_variables()):
            produced = writer.plain_var(var.name)  # Quartus io_parallel: outputs.y
            call = program.calls[program.producer[produced]] if produced in program.producer else None
            layer = call.layer if call is not None else var.name
            want = self.keras_outputs[k] if self.keras_outputs is not None and k < len(self.keras_outputs) \
                else self.expected_layers.get(layer or '')
            got = values.get(layer) if layer else None
            if want is None:
                continue
            name = writer.result_type_arg(call.function, list(call.type_args), set(program.configs)) if call else None
            t = program.fixed(name) if name is not None else None
            if got is None or got.size != want.size:
                continue
            got = got.reshape(want.shape)
            acc = OutputAccumulator(layer, classifier_shaped(want, layer in self.softmax_outputs))
            acc.add(want, got)
            r = acc.result()
            frame = self.frame.get(layer)
            if r['top1_agreement'] is not None and frame is not None and frame.rows == want.shape[0]:
                r['top1_agreement'] = frame.agreement(np.isin(np.arange(want.shape[0]), r['_flipped']))
            span = float(want.max() - want.min()) if want.size else 0.0
            lsb = t.lsb if t is not None else None
            status = status_of(diff(want, got, lsb), lsb)
            out.append(OutputPrediction(layer, r['top1_agreement'], r['max_abs'], r['mean_abs'], lsb or 0.0, span, status))
        return out


def _unfolded(program, known: set[str]) -> set[str]:
    """Layers whose output is no longer what the compare mapped: a layer this config's project has
    that the compared one did not (a BatchNormalization hls4ml no longer folds) makes the layer
    feeding it write its own output, not the folded one."""
    out = set()
    for call in program.calls:
        if call.layer in known or call.function != 'normalize':
            continue
        src = program.producer.get(program.source(call.args[0])) if call.args else None
        while src is not None:  # through the linear layer hls4ml splits off the layer before it
            before = program.calls[src]
            if before.layer:
                out.add(before.layer)
            if before.function != 'linear' or not before.args:
                break
            src = program.producer.get(program.source(before.args[0]))
    return out


def _types(emulator: Emulator, layer: str) -> dict[str, str]:
    if layer in emulator.inputs:  # the input layer: the type its data is stored in
        call = next((c for c in emulator.program.calls if layer in [emulator.program.source(a) for a in c.args]), None)
        t = emulator.program.fixed(call.type_args[0]) if call is not None and call.type_args else None
        return {'result': str(t)} if t is not None else {}
    try:
        return emulator.types(layer)
    except (NotEmulated, ValueError, KeyError, IndexError):
        return {}


def _chain(program, inputs: dict[str, np.ndarray]) -> tuple[Emulator, dict[str, np.ndarray], dict[str, str]]:
    """Every call of the top function emulated in order, each fed the emulated values before it."""
    for i, call in enumerate(program.calls):
        if not call.layer:
            call.layer = f'call{i}.{call.function}'
    values: dict[str, np.ndarray] = {}
    missing: dict[str, str] = {}
    emulator = Emulator(program, values, inputs)
    for var, data in inputs.items():  # the input layer: the data in its type
        t = parse_type(_types(emulator, var).get('result'))
        if t is not None:
            values[var] = arith.from_double(data, t).to_float()
    for call in program.calls:
        try:
            values[call.layer] = emulator.emulate(call.layer).to_float()
        except NotEmulated as exc:
            missing[call.layer] = str(exc)
        except (ValueError, KeyError, IndexError, OSError) as exc:  # a layout the emulation does not know
            missing[call.layer] = f'{type(exc).__name__}: {exc}'
    return emulator, values, missing
