"""Renderers: a compare result in, text or a file out. They never run hls4ml or Keras."""
