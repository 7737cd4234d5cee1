"""Which writer's layout the project package reads and writes.

hls4ml 1.3.0's Vivado/Vitis writer today (`hls4ml_1_3.py`). A project written by another
hls4ml release that lays files out or writes C++ differently gets a module of its own, with
the same functions, chosen here.
"""

from __future__ import annotations

from hlsdiff.project import hls4ml_1_3 as writer

__all__ = ['writer']
