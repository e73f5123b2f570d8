"""Native memory reuse for a long-running image worker.

Each thumbnail job allocates the same few megabytes — source bytes, Pillow's decoded image,
resize buffers — and frees them when it ends. By default both allocators hand that memory back
to the kernel: Pillow frees its image blocks at once (it caches none), and glibc returns large
chunks and the top of each thread's heap. The next job then takes ~1,000 fresh pages per 12 MP
image, each a page fault and a zeroed page (measured in the thumbnails benchmark's workers:
~1,000 minor faults per image before, under 100 after; the rates are in docs/thumbnails.md).

Kept memory does not raise the peak: blocks and chunks are only kept after a job has needed
them all at once, so the resident size settles at what one busy job already took (the memory
ceiling middleware still bounds it).
"""

from __future__ import annotations

import ctypes
import ctypes.util

import structlog
from PIL import Image

log = structlog.get_logger("roost.allocators")

# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's own ceiling for its adaptive threshold on 64-bit: every source up to the 25 MiB upload
# limit and every Pillow block (16 MiB) comes from, and goes back to, the heap instead of a
# fresh mmap and a munmap per job.
MMAP_THRESHOLD_BYTES = 32 * 2**20
# Free memory at the top of a heap above this goes back to the kernel: bounds what an unusually
# large job leaves resident after it.
TRIM_THRESHOLD_BYTES = 64 * 2**20


def keep_image_memory(block_cache: int) -> bool:
    """Let Pillow keep ``block_cache`` freed image blocks and glibc keep freed chunks for
    reuse. Returns whether the glibc part applied (False on another C library)."""
    Image.core.set_blocks_max(block_cache)  # type: ignore[attr-defined]
    mallopt = _mallopt()
    if mallopt is None:
        log.info("allocator_tuning_skipped", reason="no glibc mallopt")
        return False
    # Fixing either threshold also turns off glibc's adaptive adjustment of both.
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return True


def _mallopt() -> ctypes._NamedFuncPointer | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int)
    function.restype = ctypes.c_int
    return function
