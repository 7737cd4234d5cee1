"""hlsdiff: find where and why the hls4ml C-simulation disagrees with the ML framework (Keras, PyTorch, ONNX).

As a library (TensorFlow and hls4ml are imported on first use, not by `import hlsdiff`):

    import hlsdiff
    result = hlsdiff.compare(model_or_hls_model_or_path, X, io_type='io_stream')
    result.ok, result.onset, result.to_frame()
    table = hlsdiff.sweep(model_or_path, X, {'precision': ['ap_fixed<8,3>', 'ap_fixed<12,4>']}, labels=y)
"""

from hlsdiff._version import __version__

__all__ = ['compare', 'fix', 'patch', 'sweep', '__version__']


def __getattr__(name):
    if name in ('compare', 'fix', 'patch'):
        from hlsdiff import api

        return getattr(api, name)
    if name == 'sweep':  # the package hlsdiff.sweep, which is callable: hlsdiff.sweep(model, X, grid) is api.sweep
        import importlib

        return importlib.import_module('hlsdiff.sweep')
    raise AttributeError(f'module hlsdiff has no attribute {name!r}')
