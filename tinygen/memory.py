"""Keep freed host memory in the process instead of handing it back to the OS on every step.

A training step allocates and frees the same few-MB arrays (activations, gradients, columns)
again and again. glibc's malloc serves arrays above a dynamic threshold with fresh ``mmap``s and
trims the top of its heaps once enough memory is free, so the next step touches new pages and
takes a page fault for every 4 KB of them: 6,400 minor faults per DCGAN step (25 MB), against
~800 for PyTorch on the same step, which allocates fewer temporaries. With the settings below the
step takes none after the first, at the price of keeping the process's peak heap resident, as
the caching allocators of the big frameworks do.

Applied when tinygen is imported, on Linux with glibc only; ``TINYGEN_MALLOC=default`` leaves the
allocator alone. ``allocator_status()`` says what was done (``tinygen info`` prints it).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20     # glibc's ceiling: only larger arrays get their own mmap
TRIM_THRESHOLD = 512 << 20    # free memory kept at the top of a heap before trimming

_status = {"tuned": False, "reason": "not applied yet"}


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module doc). Returns whether it was done."""
    if os.environ.get("TINYGEN_MALLOC", "").strip().lower() in ("default", "0", "off", "no", "false"):
        _status.update(tuned=False, reason="TINYGEN_MALLOC=default")
        return False
    if not sys.platform.startswith("linux"):
        _status.update(tuned=False, reason=f"not Linux ({sys.platform})")
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        _status.update(tuned=False, reason="no glibc mallopt")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    _status.update(tuned=ok, reason=(f"glibc mmap threshold {MMAP_THRESHOLD >> 20} MB, trim threshold "
                                     f"{TRIM_THRESHOLD >> 20} MB") if ok else "mallopt refused the settings")
    return ok


def allocator_status() -> dict:
    """``{"tuned": bool, "reason": str}``."""
    return dict(_status)
