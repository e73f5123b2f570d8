"""Thumbnails: upload API, pure imaging functions, worker tasks, the dead-letter admin routes.

:mod:`roost.thumbnails.imaging` turns untrusted image bytes into thumbnail bytes with no I/O;
everything else in this package moves those bytes between the API, the queue and storage.
"""
