"""The SP 800-90B kernels load from numba's on-disk cache: an assessment in a fresh process compiles nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fipsforge.entropy import warm

COUNT_COMPILES = """
import json
import numpy as np
from fipsforge.entropy import noniid, samples, warm
data = samples.from_array(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8), 8)
noniid.assess(data)
misses = {d.__name__: sum(d.stats.cache_misses.values()) for d in warm._dispatchers()}
hits = {d.__name__: sum(d.stats.cache_hits.values()) for d in warm._dispatchers()}
print(json.dumps({"cold": warm.cold_kernels(), "misses": misses, "hits": hits, "dir": str(warm.cache_directory())}))
"""


def probe(env: dict[str, str], script: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_a_fresh_process_loads_every_kernel_from_the_cache() -> None:
    warm.compile_all()  # what bootstrap does; cheap when the cache is already warm
    assert warm.cold_kernels() == []
    found = probe(dict(os.environ), COUNT_COMPILES)
    assert found["cold"] == []
    misses = found["misses"]
    hits = found["hits"]
    assert isinstance(misses, dict) and isinstance(hits, dict)
    assert sum(misses.values()) == 0, misses
    assert sum(hits.values()) > 0  # the counters do count: the kernels that ran came from the cache


def test_an_empty_cache_is_seen_as_cold(tmp_path: Path) -> None:
    # Negative control: pointed at an empty cache directory, every kernel is cold.
    script = "import json\nfrom fipsforge.entropy import warm\nprint(json.dumps({'cold': warm.cold_kernels(), 'dir': str(warm.cache_directory())}))"
    found = probe({**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}, script)
    assert str(found["dir"]).startswith(str(tmp_path))
    assert isinstance(found["cold"], list) and len(found["cold"]) == len(warm._dispatchers())
