"""Test-only helpers for tinygen.

:mod:`tinygen.testing.fake_cuda` is a CuPy stand-in used when ``TINYGEN_FAKE_CUDA=1``: it lets
the whole suite run "on the device" without a GPU while refusing implicit host conversions
exactly as CuPy does. It is imported lazily by :mod:`tinygen.backend`, never from here.
"""
