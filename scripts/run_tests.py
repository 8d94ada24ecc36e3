"""Run the test suite once per Keras backend and print a summary.

The backend is fixed when Keras is imported, so each backend gets its own
pytest process. The three run at the same time (most tests keep one core
busy, so they share a small machine well); each one's output goes to
`test-logs/<backend>.log` and is printed when it finishes. Tests marked
`backend_independent` (readers, argument checks, files in sync, checks
whose outcome does not depend on the process's backend) run in one
process only: PyTorch's when it runs (eager, so the tests that train many
small heads do not compile each one: 10-15x faster than under JAX or
TensorFlow), else the first backend's. Exits non-zero if any backend
fails or collects nothing.

Run at the same time, the processes split the cores between them: each
backend's thread pools get `cores // processes` threads (1 on a 2-core
machine; a variable set outside wins), so that they do not oversubscribe
the machine. They share one JAX compilation cache folder
(`$KERAS_DAAM_TEST_JAX_CACHE`, see `tests/conftest.py`), removed at the
end unless it was given.

    python scripts/run_tests.py                 # all three backends
    python scripts/run_tests.py --backends jax  # one
    python scripts/run_tests.py --sequential    # one after another
    python scripts/run_tests.py -- -m "not large" -x
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

BACKENDS = ("tensorflow", "jax", "torch")
LOGS = "test-logs"


def _independent_host(backends):
    """The backend whose process runs the backend-independent tests."""
    return "torch" if "torch" in backends else backends[0]


def _command(pytest_args, host):
    args = list(pytest_args)
    if not host:
        # Backend-independent tests run in the host's process.
        marker = "not backend_independent"
        if "-m" in args:
            i = args.index("-m")
            args[i + 1] = f"({args[i + 1]}) and {marker}"
        else:
            args += ["-m", marker]
    return [sys.executable, "-m", "pytest", "-q", "--durations=15", *args]


def _thread_env(processes):
    """Thread-pool sizes of one of `processes` processes sharing the CPUs."""
    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {
        name: os.environ.get(name, str(threads))
        for name in (
            "OMP_NUM_THREADS",  # PyTorch, oneDNN
            "TF_NUM_INTRAOP_THREADS",
            "TF_NUM_INTEROP_THREADS",
        )
    }
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and "multi_thread_eigen" not in flags:
        # XLA's CPU backend (JAX, TensorFlow's jit_compile): no thread-count
        # flag; one thread is "no multi-threaded Eigen".
        env["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false"
        env["XLA_FLAGS"] = env["XLA_FLAGS"].strip()
    return env


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
    shared = {}
    own_cache = None
    if "KERAS_DAAM_TEST_JAX_CACHE" not in os.environ:
        own_cache = tempfile.mkdtemp(prefix="keras_daam_test_jax_cache_")
        shared["KERAS_DAAM_TEST_JAX_CACHE"] = own_cache
    if not args.sequential and len(backends) > 1:
        shared.update(_thread_env(len(backends)))
    try:
        return _run(args, backends, pytest_args, shared)
    finally:
        if own_cache:
            shutil.rmtree(own_cache, ignore_errors=True)


def _run(args, backends, pytest_args, shared):
    start = time.time()
    results = []
    running = []
    host = _independent_host(backends)
    for backend in backends:
        env = dict(os.environ, **shared, KERAS_BACKEND=backend)
        command = _command(pytest_args, host=backend == host)
        print(f"===== KERAS_BACKEND={backend}: {' '.join(command[1:])}")
        if args.sequential:
            t0 = time.time()
            code = subprocess.call(command, env=env)
            results.append((backend, code, time.time() - t0, None))
            continue
        log = open(os.path.join(LOGS, f"{backend}.log"), "w")
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        running.append((backend, proc, log, time.time()))
    # Poll rather than wait in order: each backend's time is its own
    # process's end, and its log is printed as soon as it finishes.
    # `os.wait4` also gives the CPU time of the process and its reaped
    # children (subprocess tests), which a busy machine disturbs less.
    finished = {}
    while running:
        for item in list(running):
            backend, proc, log, t0 = item
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                continue
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            seconds = time.time() - t0
            cpu = usage.ru_utime + usage.ru_stime
            finished[backend] = (code, seconds, cpu)
            running.remove(item)
            log.close()
            print(
                f"\n===== KERAS_BACKEND={backend} (exit {code}, "
                f"{seconds:.0f}s, {cpu:.0f}s CPU)",
                flush=True,
            )
            with open(os.path.join(LOGS, f"{backend}.log")) as f:
                sys.stdout.write(f.read())
            sys.stdout.flush()
        if running:
            time.sleep(0.5)
    for backend in backends:
        if backend in finished:
            results.append((backend, *finished[backend]))
    print("\n===== summary =====")
    for backend, code, seconds, cpu in results:
        status = {0: "passed", 5: "FAILED (no tests collected)"}.get(
            code, f"FAILED (exit {code})"
        )
        cpu = "" if cpu is None else f" ({cpu:.0f}s CPU)"
        print(f"{backend:>10}: {status} in {seconds:.0f}s{cpu}")
    failed = [b for b, code, *_ in results if code != 0]
    print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed; "
        f"{time.time() - start:.0f}s wall"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
