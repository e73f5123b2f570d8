"""keep_image_memory: the settings `roost worker` applies at start, checked in a fresh interpreter
each (they are process-wide). What they are worth is measured by bench/thumbnails.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import json, sys
    from PIL import Image
    from roost.infra import allocators

    applied = allocators.keep_image_memory(int(sys.argv[1]))
    print(json.dumps({"applied": applied, "blocks": Image.core.get_blocks_max()}))
    """
)


def probe(block_cache: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(block_cache)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_worker_keeps_pillow_blocks_and_glibc_chunks() -> None:
    assert probe(4) == {"applied": True, "blocks": 4}
    assert probe(0) == {"applied": True, "blocks": 0}
