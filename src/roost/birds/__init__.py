"""Birds: a catalog of real species, their pictures and a full-screen page to browse them.

Three roles share this package:

* ``birds`` (port 4201) — the catalog API; ``GET /api/v1/birds/random`` returns one bird with an
  image URL. The catalog is seeded from :mod:`roost.birds.catalog_data`.
* ``bird-images`` (port 4200) — serves bird pictures: a stored image, or, when none can be had,
  the SVG drawn by :func:`roost.birds.placeholder.placeholder_svg`.
* ``frontend`` (port 3000) — serves the dependency-free page in ``frontend/static`` and proxies
  ``/api`` to the catalog so that the page only talks to its own origin (strict CSP).

``assets/`` holds one illustration per catalog species, drawn by ``scripts/generate_bird_art.py``
(never downloaded), so the demo works offline.
"""
