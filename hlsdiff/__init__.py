"""hlsdiff: find where and why the hls4ml C-simulation disagrees with Keras.

As a library (TensorFlow and hls4ml are imported on first use, not by `import hlsdiff`):

    import hlsdiff
    result = hlsdiff.compare(model_or_hls_model_or_path, X, io_type='io_stream')
    result.ok, result.onset, result.to_frame()
"""

from hlsdiff._version import __version__

__all__ = ['compare', 'fix', 'patch', '__version__']


def __getattr__(name):
    if name in ('compare', 'fix', 'patch'):
        from hlsdiff import api

        return getattr(api, name)
    raise AttributeError(f'module hlsdiff has no attribute {name!r}')
