"""`scripts/run_tests.py`: the pytest command each backend's process runs."""

import argparse
import importlib.util
import os

import pytest

SCRIPT = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "scripts", "run_tests.py"
)
spec = importlib.util.spec_from_file_location("run_tests", SCRIPT)
run_tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_tests)

pytestmark = pytest.mark.backend_independent


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def test_workers_are_parsed_and_checked():
    parser = _Parser()
    assert run_tests._parse_workers("jax=2,torch=1", parser) == {
        "jax": 2,
        "torch": 1,
    }
    assert run_tests._parse_workers("", parser) == {}
    for bad in ("jax", "jax=0", "jax=two", "theano=2"):
        with pytest.raises(ValueError, match="BACKEND=N") as info:
            run_tests._parse_workers(bad, parser)
        assert repr(bad) in str(info.value)


def test_command_of_each_process():
    host = run_tests._command(["-m", "not large"], host=True)
    assert host[-2:] == ["-m", "not large"] and "-n" not in host
    # The other processes leave the backend-independent tests to the host,
    # whatever marker expression the user gave.
    other = run_tests._command(["-m", "not large", "-x"], host=False)
    assert other[-3:] == ["-m", "(not large) and not backend_independent", "-x"]
    assert run_tests._command([], host=False)[-2:] == [
        "-m",
        "not backend_independent",
    ]
    split = run_tests._command([], host=False, workers=2)
    i = split.index("-n")
    assert split[i : i + 4] == ["-n", "2", "--dist", "loadfile"]
    assert run_tests._independent_host(["jax", "torch"]) == "torch"
    assert run_tests._independent_host(["jax", "tensorflow"]) == "jax"
