"""The hls4ml config of the cut model: the user's settings, and only the kept layers' entries."""

from __future__ import annotations

import copy

# hls4ml's own layer names derived from a Keras layer's (a fused activation split off, a linear twin)
DERIVED = ('linear', 'relu', 'softmax', 'sigmoid', 'tanh', 'elu', 'selu', 'leaky_relu', 'alpha', 'hard_sigmoid')


def full_config(keras_model, conv, project, calls=None) -> tuple[dict, dict]:
    """(HLSConfig, settings {IOType, Backend, Part}) the compare converted with: a given project's
    own hls4ml_config.yml, otherwise what hlsdiff builds from the ConvertOptions `conv` (`calls`: the
    frontend's hls4ml calls, Keras 2's by default)."""
    if project is not None:
        cfg = project.config
        settings = {'IOType': cfg.get('IOType', 'io_parallel'), 'Backend': cfg.get('Backend', 'Vivado'),
                    'Part': cfg.get('Part')}
        return copy.deepcopy(cfg.get('HLSConfig') or {}), settings
    from hlsdiff.trace.convert import build_config

    hls, settings, _ = build_config(keras_model, conv, calls)
    return hls, {'IOType': settings['io_type'], 'Backend': settings['backend'], 'Part': settings.get('part')}


def reduced(hls: dict, settings: dict, keep: list[str], input_name: str, input_type: str | None,
            others: set[str] | frozenset[str] = frozenset()) -> dict:
    """config.yml: `Backend`, `IOType` (and `Part`) with the `HLSConfig` reduced to `keep`, as hls4ml's
    own YAML project config lays them out. The input takes the type the original layer's input had.
    `others`: the model's layers not kept (a derived-looking name of one of them is not kept either)."""
    model_cfg = {k: v for k, v in (hls.get('Model') or {}).items() if k != 'Trace'}
    names = ({f'{k}_{suffix}' for k in keep for suffix in DERIVED} - set(others)) | set(keep)
    layers = {}
    for name, entry in (hls.get('LayerName') or {}).items():
        if name in names:
            layers[name] = {k: v for k, v in copy.deepcopy(entry).items() if k != 'Trace'}
    if input_type:
        layers = {input_name: {'Precision': {'result': input_type}}, **layers}
    out = {'Backend': settings['Backend'], 'IOType': settings['IOType']}
    if settings.get('Part'):
        out['Part'] = settings['Part']
    out['HLSConfig'] = {'Model': model_cfg, **({'LayerName': layers} if layers else {})}
    return out
