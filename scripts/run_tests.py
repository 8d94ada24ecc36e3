"""Run the test suite once per Keras backend and print a summary.

The backend is fixed when Keras is imported, so each backend gets its own
pytest process. The three run at the same time (most tests keep one core
busy, so they share a small machine well); each one's output goes to
`test-logs/<backend>.log` and is printed when it finishes. Tests marked
`backend_independent` (readers, argument checks, files in sync: nothing
that runs a Keras backend) run in the first backend's process only. Exits
non-zero if any backend fails or collects nothing.

    python scripts/run_tests.py                 # all three backends
    python scripts/run_tests.py --backends jax  # one
    python scripts/run_tests.py --sequential    # one after another
    python scripts/run_tests.py -- -m "not large" -x
"""

import argparse
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
LOGS = "test-logs"


def _command(pytest_args, first):
    args = list(pytest_args)
    if not first:
        # Backend-independent tests already ran in the first process.
        marker = "not backend_independent"
        if "-m" in args:
            i = args.index("-m")
            args[i + 1] = f"({args[i + 1]}) and {marker}"
        else:
            args += ["-m", marker]
    return [sys.executable, "-m", "pytest", "-q", "--durations=15", *args]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated"
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="one backend after another, output streamed",
    )
    args, pytest_args = parser.parse_known_args(argv)
    if pytest_args and pytest_args[0] == "--":
        pytest_args = pytest_args[1:]
    backends = args.backends.split(",")
    for backend in backends:
        if backend not in BACKENDS:
            parser.error(f"unknown backend {backend!r}; one of {BACKENDS}")
    os.makedirs(LOGS, exist_ok=True)
    start = time.time()
    results = []
    running = []
    for i, backend in enumerate(backends):
        env = dict(os.environ, KERAS_BACKEND=backend)
        command = _command(pytest_args, first=i == 0)
        print(f"===== KERAS_BACKEND={backend}: {' '.join(command[1:])}")
        if args.sequential:
            t0 = time.time()
            code = subprocess.call(command, env=env)
            results.append((backend, code, time.time() - t0))
            continue
        log = open(os.path.join(LOGS, f"{backend}.log"), "w")
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        running.append((backend, proc, log, time.time()))
    for backend, proc, log, t0 in running:
        code = proc.wait()
        log.close()
        results.append((backend, code, time.time() - t0))
        print(f"\n===== KERAS_BACKEND={backend} (exit {code})", flush=True)
        with open(os.path.join(LOGS, f"{backend}.log")) as f:
            sys.stdout.write(f.read())
    print("\n===== summary =====")
    for backend, code, seconds in results:
        status = {0: "passed", 5: "FAILED (no tests collected)"}.get(
            code, f"FAILED (exit {code})"
        )
        print(f"{backend:>10}: {status} in {seconds:.0f}s")
    failed = [b for b, code, _ in results if code != 0]
    print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed; "
        f"{time.time() - start:.0f}s wall"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
