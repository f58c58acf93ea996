"""The command line: the one place that prints, prompts or exits.

Each subcommand lives in its own module with a `register(subparsers)` function; library errors
(`BenchError`) become one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from bench import __version__
from bench.cli.common import EXIT_ERROR, EXIT_INTERRUPTED
from bench.errors import BenchError


def build_parser() -> argparse.ArgumentParser:
    from bench.cli import datasets, devices, lab, models, parse, regress, run, sim, site, tools

    parser = argparse.ArgumentParser(
        prog="bench",
        description="On-device ML benchmarking: build model variants, measure them on devices, compare.",
    )
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    run.register(subparsers)
    models.register(subparsers)
    datasets.register(subparsers)
    site.register(subparsers)
    parse.register(subparsers)
    sim.register(subparsers)
    devices.register(subparsers)
    tools.register(subparsers)
    regress.register(subparsers)
    lab.register(subparsers)
    return parser


def _log_above_progress_bars() -> contextlib.AbstractContextManager[object]:
    """On a terminal, log lines go through tqdm, so a line logged while a bar is drawn does not tear it."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    redirect: contextlib.AbstractContextManager[object] = logging_redirect_tqdm()
    return redirect


def main(argv: Sequence[str] | None = None) -> int:
    # TensorFlow and LiteRT log from C++ at import; keep their chatter out unless asked for.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # bench's own progress; libraries only when something is wrong ("generated new fontManager")
        logging.getLogger("bench").setLevel(logging.INFO)
        for noisy in ("tensorflow", "absl", "h5py"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_ERROR
    try:
        with _log_above_progress_bars():
            return int(args.handler(args))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `bench ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
