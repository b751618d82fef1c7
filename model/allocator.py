"""Keeps glibc from returning large freed blocks to the kernel, which makes CPU passes much faster."""
import ctypes
import sys


def keep_freed_memory_mapped() -> None:
    """Stops glibc from handing large freed blocks back to the kernel. Each forward pass allocates
    attention maps of tens of MB; by default each is a fresh mmap, and on a VM the page faults of
    touching it again made a 1024-token forward pass 5x slower (measured: 3.7 s -> 0.7 s)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # from glibc's malloc.h
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
