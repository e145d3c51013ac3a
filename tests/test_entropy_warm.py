"""The SP 800-90B kernels come precompiled: the ahead-of-time module (no numba in the process) when
built, else numba's on-disk JIT cache. Either way an assessment in a fresh process compiles nothing,
and both forms give identical results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fipsforge.entropy import native, warm

COUNT_COMPILES = """
import json
import numpy as np
from fipsforge.entropy import native, noniid, samples, warm
data = samples.from_array(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8), 8)
noniid.assess(data)
misses = {d.__name__: sum(d.stats.cache_misses.values()) for d in warm._dispatchers()}
hits = {d.__name__: sum(d.stats.cache_hits.values()) for d in warm._dispatchers()}
print(json.dumps({"cold": warm.cold_kernels(), "misses": misses, "hits": hits, "dir": str(warm.cache_directory()),
                  "aot": native.kernels().ahead_of_time}))
"""

# Both tracks on data that reaches every kernel (8-bit literal and bitstring, binary, translated),
# reporting which kernels ran and whether numba was imported.
ASSESS = """
import json, sys
import numpy as np
from fipsforge.entropy import iid, native, noniid, samples
rng = np.random.default_rng(7)
cases = [(rng.integers(0, 256, 8000), 8), (rng.integers(0, 2, 8000), 1),
         (rng.choice([0, 3, 7, 12], 8000), 4), (np.cumsum(rng.integers(0, 2, 8000)) % 5, 3)]
out = []
for values, bits in cases:
    data = samples.from_array(values.astype(np.uint8), bits)
    out.append(noniid.assess(data).model_dump())
    # Permutation counts are tallied as threads finish: one worker makes them reproducible.
    out.append(iid.assess(data, permutations=40, seed=3).model_dump(exclude={"permutation", "permutations_run",
                                                                          "permutation_passed", "iid"}))
    ranks, run = iid.permutation_tests(data, 40, seed=3, workers=1)
    out.append([run, *(r.model_dump() for r in ranks)])
print(json.dumps({"aot": native.kernels().ahead_of_time, "numba": "numba" in sys.modules, "results": out}))
"""


def probe(env: dict[str, str], script: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    found: dict[str, object] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def built() -> Path:
    """What bootstrap does (cheap when both are already compiled)."""
    warm.compile_all()
    path = warm.build_native()
    assert path is not None and path.is_file()
    return path


def test_a_fresh_process_assesses_without_numba(built: Path) -> None:
    found = probe(dict(os.environ), ASSESS)
    assert found["aot"] is True
    assert found["numba"] is False


def test_without_the_module_the_jit_kernels_run_and_agree(built: Path, tmp_path: Path) -> None:
    # Negative control for the test above, and the exactness check: pointed at an empty cache, the
    # process falls back to numba's JIT (imported), and every estimate and count is the same.
    aot = probe(dict(os.environ), ASSESS)
    jit = probe({**os.environ, "FIPSFORGE_CACHE": str(tmp_path)}, ASSESS)
    assert jit["aot"] is False and jit["numba"] is True
    assert jit["results"] == aot["results"]


def test_a_fresh_process_loads_every_jit_kernel_from_the_cache(built: Path, tmp_path: Path) -> None:
    assert warm.cold_kernels() == []
    found = probe({**os.environ, "FIPSFORGE_CACHE": str(tmp_path)}, COUNT_COMPILES)
    assert found["aot"] is False and found["cold"] == []
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


def test_the_module_is_named_by_its_sources(built: Path) -> None:
    assert built.name.startswith(native.module_name(native.build_key()))
    # Negative control: another key (changed sources) finds no module.
    assert native.module_path("0" * 16) is None


def test_in_place_arguments_are_never_copied(built: Path) -> None:
    import numpy as np

    kernels = native.Kernels(native.compiled())
    values = np.arange(1000, dtype=np.uint16)
    kernels.shuffle(values, 5)
    assert sorted(values.tolist()) == list(range(1000)) and values.tolist() != list(range(1000))
    with pytest.raises(TypeError, match="in-place"):
        kernels.shuffle(np.arange(1000, dtype=np.int64), 5)  # would shuffle a copy
