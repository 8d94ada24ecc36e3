"""The benchmark cases, in the order a worker runs them.

`CASES` maps each `--cases` name to a function `(adapter, quick, record)`:
`adapter` is the worker's `adapters.Adapter`, `quick` the `--quick` flag,
`record(case, **fields)` adds one row to `results.json`. A case picks its
own sizes from `quick`.
"""

from cases import end_to_end
from cases import layer
from cases import pipeline

CASES = {
    "vs_package": layer.vs_package,
    "vs_multiply": layer.vs_multiply,
    "densities": layer.densities,
    "vs_mha": layer.vs_mha,
    "end_to_end": end_to_end.run,
    "pipeline": pipeline.run,
}
