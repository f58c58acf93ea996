"""`bench publish` (the HTML site of every run) and `bench serve` (browse it on this machine)."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

from bench.cli.common import open_store, store_arg
from bench.errors import ConfigError

DEFAULT_SITE = Path("reports")


def register(subparsers: Any) -> None:
    publish = subparsers.add_parser("publish", help="write the static HTML site of every stored run")
    publish.add_argument("--out", type=Path, default=DEFAULT_SITE, help="site folder (default: reports/)")
    store_arg(publish)
    publish.set_defaults(handler=_publish)

    serve = subparsers.add_parser("serve", help="serve a published site on 127.0.0.1 for browsing")
    serve.add_argument("folder", nargs="?", type=Path, default=DEFAULT_SITE, help="site folder (default: reports/)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.set_defaults(handler=_serve)


def print_summary(summary: Any) -> None:
    print(f"wrote {summary.pages} pages and {summary.plots} plots for {summary.runs} run(s), "
          f"{summary.size_bytes / 1e6:.2f} MB: {summary.path / 'index.html'}")
    print(f"browse it with: python -m bench serve {summary.path}")


def _publish(args: argparse.Namespace) -> int:
    from bench.reports.site import publish

    with open_store(args.store) as store:
        print_summary(publish(store, args.out))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    if not (args.folder / "index.html").is_file():
        raise ConfigError(f"{args.folder} has no index.html; write the site first with: python -m bench publish")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(args.folder))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); try --port 0") from exc
    with server:
        print(f"serving {args.folder} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
        server.serve_forever()
    return 0
