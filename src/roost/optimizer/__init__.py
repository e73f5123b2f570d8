"""Atlas: marketing budget optimisation over channel response curves.

``curves`` and ``solver`` are pure (NumPy/SciPy, no I/O); the API, jobs and registry build on them.
"""
