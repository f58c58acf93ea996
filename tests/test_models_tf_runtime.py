"""Native log lines during a build are captured; Python's own stderr stays on the terminal."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from bench.models.tf_runtime import native_stderr_captured


def test_native_lines_are_captured_and_python_output_is_not(capfd: pytest.CaptureFixture[str],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bench.models.tf_runtime")
    with native_stderr_captured():
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers\n")
        print("progress bar", file=sys.stderr)
    err = capfd.readouterr().err
    assert "cuda drivers" not in err and "progress bar" in err
    assert [r.levelno for r in caplog.records if "cuda drivers" in r.message] == [logging.DEBUG]


def test_native_lines_of_a_failed_build_are_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bench.models.tf_runtime")
    with pytest.raises(RuntimeError), native_stderr_captured():
        os.write(2, b"E0000 converter.cc:1] op FOO is not supported\n")
        raise RuntimeError("conversion failed")
    assert [r.levelno for r in caplog.records if "FOO" in r.message] == [logging.WARNING]
