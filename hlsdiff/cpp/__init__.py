"""Corrected depthwise kernels (real C++ headers beside this file) and the patcher."""
