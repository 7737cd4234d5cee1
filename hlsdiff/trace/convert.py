"""Convert a model with hls4ml through its frontend's hls4ml calls, tracing every layer, and write the project once."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hlsdiff.errors import BadInput, ConversionFailed
from hlsdiff.project import retrace_written


@dataclass(frozen=True)
class ConvertOptions:
    """Everything the user can say about the conversion."""

    io_type: str = 'io_parallel'
    backend: str = 'Vivado'
    strategy: str | None = None
    reuse_factor: int | None = None
    precision: str | None = None
    granularity: str = 'name'
    part: str | None = None
    config: dict | None = None
    project_name: str = 'myproject'
    # the options the user gave on the command line: where the config file says otherwise,
    # the command line wins, with a note
    given: tuple[str, ...] = ()


class Hls4mlCalls(Protocol):
    """A frontend's hls4ml calls (hlsdiff.frontends.Frontend declares them): hls4ml's default config for the model,
    the layer names a user's config may give, hls4ml's converter for the framework."""

    def base_config(self, model, opts, **kwargs) -> dict: ...

    def layer_names(self, model) -> set[str]: ...

    def hls4ml_convert(self, model, **kwargs) -> Any: ...


@dataclass
class Converted:
    """The hls4ml model, the config it was converted with, and warnings worth showing."""

    hls_model: Any  # hls4ml's ModelGraph
    config: dict
    warnings: list[str] = field(default_factory=list)


def read_config(path: str | Path) -> dict:
    """Read an hls4ml config (YAML or JSON, as `config_from_keras_model` writes it)."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise BadInput(f'config file not found: {p}')
    text = p.read_text(errors='replace')
    try:
        loaded = json.loads(text) if p.suffix.lower() == '.json' else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise BadInput(f'{p}: not valid {"JSON" if p.suffix.lower() == ".json" else "YAML/JSON"}: {first}') from None
    if not isinstance(loaded, dict):
        raise BadInput(f'{p}: an hls4ml config must be a mapping (with Model / LayerName keys), got {type(loaded).__name__}')
    return loaded


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


HLS4ML_SUFFIXES = ('linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'alpha', 'scale', 'rescale', 'act')


def build_config(model, opts: ConvertOptions, calls: Hls4mlCalls) -> tuple[dict, dict, list[str]]:
    """The hls4ml HLS config and the project-level settings, with the user's config merged in.

    Returns (hls_config, project_settings, warnings). Layer names in the user's config that
    match no layer of the model are warned about, not fatal. `calls`: the model's frontend.
    """
    warnings: list[str] = []
    user, settings = _project_settings(copy.deepcopy(opts.config or {}), opts, warnings)
    granularity = 'name' if 'LayerName' in user else opts.granularity
    precision = opts.precision or (user.get('Model', {}) or {}).get('Precision')
    if isinstance(precision, dict):
        precision = precision.get('default')
    kwargs = {'granularity': granularity, 'backend': settings['backend']}
    if precision:
        kwargs['default_precision'] = precision
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # said by convert
        base = calls.base_config(model, opts, **kwargs)
    # hls4ml's own names (`<layer>_relu`, `<layer>_softmax`, `<layer>_linear`; a QKeras layer's `_alpha`; the
    # scale, rescale and activation it makes of a QONNX Quant node) are valid keys too
    names = calls.layer_names(model)
    known = names | set(base.get('LayerName') or {})
    known |= {f'{name}_{suffix}' for name in known for suffix in HLS4ML_SUFFIXES}
    unknown = sorted(set(user.get('LayerName') or {}) - known)
    if unknown:
        warnings.append(f'--config names layers the model does not have (ignored): {", ".join(unknown)}')
        for name in unknown:
            user['LayerName'].pop(name)
    cfg = _deep_merge(base, user)
    _apply_options(cfg, user, opts, warnings)
    return cfg, settings, warnings


def _project_settings(user: dict, opts: ConvertOptions, warnings: list[str]) -> tuple[dict, dict]:
    """(the HLSConfig part of `user`, the project settings): a whole project config (hls4ml_config.yml)
    gives IOType/Backend/Part unless the matching option was given."""
    settings = {'io_type': opts.io_type, 'backend': opts.backend, 'part': opts.part}
    if 'HLSConfig' not in user:
        return user, settings
    for key, option in (('IOType', 'io_type'), ('Backend', 'backend'), ('Part', 'part')):
        if key not in user:
            continue
        if option in opts.given and user[key] != settings[option]:
            warnings.append(f'--{option.replace("_", "-")} {settings[option]} overrides {key}: {user[key]} '
                            'of the --config file')
        else:
            settings[option] = user[key]
    return user['HLSConfig'] or {}, settings


def _apply_options(cfg: dict, user: dict, opts: ConvertOptions, warnings: list[str]) -> None:
    """--precision, --strategy and --reuse-factor over the merged config (warned where they override
    the --config file); Trace on every layer."""
    model_cfg = cfg.setdefault('Model', {})
    for key, option in (('Strategy', 'strategy'), ('ReuseFactor', 'reuse_factor')):
        before, value = (user.get('Model') or {}).get(key), getattr(opts, option)
        if value and before is not None and str(before).lower() != str(value).lower():
            warnings.append(f'--{option.replace("_", "-")} {value} overrides Model.{key}: {before} of the --config file')
    configured = (user.get('Model') or {}).get('Precision')
    configured = configured.get('default') if isinstance(configured, dict) else configured
    if opts.precision and configured and configured != opts.precision:
        warnings.append(f'--precision {opts.precision} overrides Model.Precision: {configured} of the --config file')
    if opts.precision:
        model_cfg['Precision'] = opts.precision if not isinstance(model_cfg.get('Precision'), dict) else {
            **model_cfg['Precision'],
            'default': opts.precision,
        }
    if opts.strategy:
        model_cfg['Strategy'] = opts.strategy
    if opts.reuse_factor:
        model_cfg['ReuseFactor'] = opts.reuse_factor
    for layer_cfg in (cfg.get('LayerName') or {}).values():
        if opts.strategy and 'Strategy' in layer_cfg:
            layer_cfg['Strategy'] = opts.strategy
        if opts.reuse_factor and 'ReuseFactor' in layer_cfg:
            layer_cfg['ReuseFactor'] = opts.reuse_factor
        layer_cfg['Trace'] = True


@contextlib.contextmanager
def hls4ml_voice(notes: list[str]):
    """What hls4ml prints as a warning (it uses print(), e.g. "WARNING: Invalid ReuseFactor=4 ...
    Using ReuseFactor=3"), what it prints on stderr (e.g. "Function da_call requires da4ml..., but package
    da4ml is missing", once per layer) and its Python warnings, kept as notes of the compare, each once,
    instead of lost or repeated."""
    import warnings

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            yield
    finally:
        printed = [line.strip() for line in out.getvalue().splitlines() if line.strip().upper().startswith('WARNING')]
        printed += [line.strip() for line in err.getvalue().splitlines() if line.strip()]
        raised = [str(w.message).strip() for w in caught if _from_hls4ml(w)]
        for line in printed + raised:
            note = 'hls4ml: ' + line.removeprefix('WARNING:').strip()
            if note not in notes:
                notes.append(note)


_NOT_HLS4ML_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _from_hls4ml(w) -> bool:
    """A warning hls4ml raises about the model or its config. A deprecation that NumPy (or another library)
    raises about a call in hls4ml's code is attributed to that call's file, but it is the library's, about
    the Python stack, not hls4ml's word on the model: it is not a note."""
    if issubclass(getattr(w, 'category', UserWarning), _NOT_HLS4ML_CATEGORIES):
        return False
    return 'hls4ml' in str(getattr(w, 'filename', ''))


def convert(model, opts: ConvertOptions, output_dir: Path, calls: Hls4mlCalls) -> Converted:
    """Convert with hls4ml (the frontend's `calls`), with `Trace` on for every layer hls4ml ends up with."""
    try:
        cfg, settings, warnings = build_config(model, opts, calls)
    except BadInput:
        raise
    except Exception as exc:  # hls4ml's config builder rejects layers it cannot convert
        text = str(exc).strip() or type(exc).__name__
        raise ConversionFailed(f'hls4ml could not convert the model: {text.splitlines()[0]}', detail=text) from None
    kwargs = dict(
        hls_config=cfg,
        output_dir=str(output_dir),
        project_name=opts.project_name,
        backend=settings['backend'],
        io_type=settings['io_type'],
    )
    if settings['part']:
        kwargs['part'] = settings['part']
    said: list[str] = []
    try:
        with hls4ml_voice(said):
            hls_model = calls.hls4ml_convert(model, **kwargs)
    except Exception as exc:
        text = str(exc).strip() or type(exc).__name__
        raise ConversionFailed(f'hls4ml could not convert the model: {text.splitlines()[0]}', detail=text) from None
    hls_model.config.trace_output = True
    for layer in hls_model.get_layers():
        layer.set_attr('trace', True)
    return Converted(hls_model, cfg, warnings + said)


def write_project(converted: Converted, model_in_yml: bool = True) -> Path:
    """Write the project (sources with tracing compiled in); hls4ml's own build is never run.

    hls4ml 1.3.0 registers its YAML representer for `keras.Model`, not tf_keras's, so the
    model in hls4ml_config.yml is pickled into it: half a second for the demo, half the
    conversion. A project only hlsdiff reads (`model_in_yml=False`) gets the file without it;
    a project written for the user gets it as hls4ml writes it.
    """
    config = converted.hls_model.config.config
    keras_model = None if model_in_yml else config.pop('KerasModel', None)
    try:
        with hls4ml_voice(converted.warnings):
            converted.hls_model.write()
    except Exception as exc:
        text = str(exc).strip() or type(exc).__name__
        raise ConversionFailed(f'hls4ml could not write the project: {text.splitlines()[0]}', detail=text) from None
    finally:
        if keras_model is not None:
            config['KerasModel'] = keras_model
    written = Path(converted.hls_model.config.get_output_dir())
    if retrace_written(written, converted.hls_model):
        converted.warnings.append('the trace calls hls4ml wrote were corrected: each follows the call that writes its '
                                  "layer's output (hls4ml 1.3.0's Quartus io_stream writer traces the output stream "
                                  "under every layer's name)")
    return written
