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

JAX's tests are the longest (its eager ops and every new model compile
with XLA, one core each), so by default its process hands test files to 2
pytest-xdist workers (`--workers jax=2`; `--dist loadfile`: a file's tests
stay together and share their module fixtures). On a 2-core machine this
lets JAX use the core the other backends leave when they finish, instead
of running its last third alone on one core.

Run at the same time, the processes split the cores between them: each
backend's thread pools get `cores // processes` threads (1 on a 2-core
machine; a variable set outside wins), so that they do not oversubscribe
the machine. They share one JAX compilation cache folder
(`$KERAS_DAAM_TEST_JAX_CACHE`, see `tests/conftest.py`), removed at the
end unless it was given.

    python scripts/run_tests.py                 # all three backends
    python scripts/run_tests.py --backends jax  # one
    python scripts/run_tests.py --sequential    # one after another
    python scripts/run_tests.py --workers jax=1 # JAX in one process
    python scripts/run_tests.py -- -m "not large" -x
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_WORKERS = "jax=2"
LOGS = "test-logs"


def _independent_host(backends):
    """The backend whose process runs the backend-independent tests."""
    return "torch" if "torch" in backends else backends[0]


def _command(pytest_args, host, workers=1):
    args = list(pytest_args)
    if workers > 1:
        args = ["-n", str(workers), "--dist", "loadfile", *args]
    if not host:
        # Backend-independent tests run in the host's process.
        marker = "not backend_independent"
        if "-m" in args:
            i = args.index("-m")
            args[i + 1] = f"({args[i + 1]}) and {marker}"
        else:
            args += ["-m", marker]
    return [sys.executable, "-m", "pytest", "-q", "--durations=15", *args]


def _have_xdist():
    return importlib.util.find_spec("xdist") is not None


def _parse_workers(text, parser):
    """`"jax=2,torch=1"` -> `{"jax": 2, "torch": 1}`."""
    workers = {}
    for item in filter(None, text.split(",")):
        backend, _, count = item.partition("=")
        if backend not in BACKENDS or not count.isdigit() or int(count) < 1:
            parser.error(
                f"--workers takes BACKEND=N (N >= 1, BACKEND one of "
                f"{BACKENDS}), got {item!r}"
            )
        workers[backend] = int(count)
    if any(n > 1 for n in workers.values()) and not _have_xdist():
        parser.error(
            f"--workers {text} needs pytest-xdist: pip install "
            "pytest-xdist (or --workers jax=1)"
        )
    return workers


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
    parser.add_argument(
        "--workers",
        default=None,
        help="pytest-xdist workers per backend, e.g. jax=2,tensorflow=2 "
        "(default jax=2 when pytest-xdist is installed; N=1: one process)",
    )
    args, pytest_args = parser.parse_known_args(argv)
    if pytest_args and pytest_args[0] == "--":
        pytest_args = pytest_args[1:]
    backends = args.backends.split(",")
    for backend in backends:
        if backend not in BACKENDS:
            parser.error(f"unknown backend {backend!r}; one of {BACKENDS}")
    if args.workers is None:
        args.workers = DEFAULT_WORKERS if _have_xdist() else ""
        if not args.workers:
            print("run_tests: pytest-xdist not installed; JAX in one process")
    args.workers = _parse_workers(args.workers, parser)
    os.makedirs(LOGS, exist_ok=True)
    shared = {}
    own_cache = None
    if "KERAS_DAAM_TEST_JAX_CACHE" not in os.environ:
        own_cache = tempfile.mkdtemp(prefix="keras_daam_test_jax_cache_")
        shared["KERAS_DAAM_TEST_JAX_CACHE"] = own_cache
    counts = [args.workers.get(b, 1) for b in backends]
    processes = max(counts) if args.sequential else sum(counts)
    if processes > 1:
        shared.update(_thread_env(processes))
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
        command = _command(
            pytest_args,
            host=backend == host,
            workers=args.workers.get(backend, 1),
        )
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
