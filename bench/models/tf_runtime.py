"""Keep TensorFlow's and LiteRT's native log lines out of the user's terminal during builds.

Their C++ code writes straight to file descriptor 2 ("Could not find cuda drivers on your machine,
GPU will not be used.", "failed call to cuInit", "Created TensorFlow Lite XNNPACK delegate"), some
of it before absl's logging is set up, so TF_CPP_MIN_LOG_LEVEL does not reach it all. While a
variant builds, descriptor 2 goes to a temporary file and Python's own stderr (log records, progress
bars) to the real one; the captured lines are logged at DEBUG (`bench -v` shows them), or at
WARNING when the build fails, since then they may say why.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Send fd 2 to a file for the block, keep `sys.stderr` and logging on the terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    visible = os.fdopen(os.dup(saved), "w", buffering=1)
    original = sys.stderr
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and h.stream is original]
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        sys.stderr = visible
        for handler in handlers:
            handler.setStream(visible)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            visible.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sys.stderr = original
            for handler in handlers:
                handler.setStream(original)
            visible.close()
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.log(logging.WARNING if failed else logging.DEBUG, "native: %s", line)
