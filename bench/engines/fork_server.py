"""Fork one host runner per request from a process that has already imported numpy and LiteRT.

    python -m bench.engines.fork_server      # requests on stdin, replies on stdout, one JSON per line

A request is `{"argv": [...], "stdout": PATH, "stderr": PATH}`: the server forks, the child runs
`host_runner.main(argv)` with its file descriptors 1 and 2 sent to those files, and the server
replies `{"pid": N}` at once and `{"pid": N, "returncode": R}` (negative: killed by signal -R)
when the child ends. Each run is still its own process, with its own memory and its own fate,
but skips the ~0.2 s a new interpreter spends starting and importing. Linux only: forking after
the runtime is loaded is not safe on macOS, and Windows has no fork.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from bench.engines import host_runner


def _child(request: dict[str, Any]) -> int:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the request pipe belongs to the server
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    try:
        return host_runner.main([*request["argv"], "--forked"])
    except SystemExit as exc:  # argparse rejecting the arguments
        return exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def serve(requests: TextIO, replies: TextIO) -> None:
    """Answer requests one at a time until `requests` closes."""

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 70  # EX_SOFTWARE: the runner raised past its own error handling
            try:
                code = _child(request)
            finally:
                os._exit(code)
        reply({"pid": pid})
        _, status = os.waitpid(pid, 0)
        reply({"pid": pid, "returncode": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    import ai_edge_litert.interpreter  # noqa: F401  (loaded once here, inherited by every child)

    serve(sys.stdin, sys.stdout)
