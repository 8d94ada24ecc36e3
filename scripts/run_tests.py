"""Run the test suite once per Keras backend and print a summary.

The backend is fixed when Keras is imported, so each backend gets its own
pytest process. Exits non-zero if any backend fails or collects nothing.

    python scripts/run_tests.py                 # all three backends
    python scripts/run_tests.py --backends jax  # one
    python scripts/run_tests.py -- -m "not large" -x
"""

import argparse
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated"
    )
    args, pytest_args = parser.parse_known_args(argv)
    if pytest_args and pytest_args[0] == "--":
        pytest_args = pytest_args[1:]
    results = []
    for backend in args.backends.split(","):
        if backend not in BACKENDS:
            parser.error(f"unknown backend {backend!r}; one of {BACKENDS}")
        env = dict(os.environ, KERAS_BACKEND=backend)
        print(f"\n===== KERAS_BACKEND={backend} =====", flush=True)
        start = time.time()
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", *pytest_args], env=env
        )
        results.append((backend, code, time.time() - start))
    print("\n===== summary =====")
    for backend, code, seconds in results:
        status = {0: "passed", 5: "FAILED (no tests collected)"}.get(
            code, f"FAILED (exit {code})"
        )
        print(f"{backend:>10}: {status} in {seconds:.0f}s")
    failed = [b for b, code, _ in results if code != 0]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
