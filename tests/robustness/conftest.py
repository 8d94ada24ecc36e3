"""Hypothesis profiles for the robustness suite.

`ci` (the default) is derandomised: every run draws the same examples, so a
failure reproduces and the matrix never flakes. `dev` draws fresh examples
each run: `HYPOTHESIS_PROFILE=dev pytest tests/robustness` to explore.
Example counts are set per test (`@settings(max_examples=...)`), kept small
because every example builds a layer.
"""

import os

from hypothesis import HealthCheck
from hypothesis import settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
