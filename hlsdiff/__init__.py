"""hlsdiff: find where and why the hls4ml C-simulation disagrees with Keras."""

__version__ = '0.1.0'
