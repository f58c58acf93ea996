"""`bench tools fetch`: the official prebuilt benchmark_model per Android ABI, cached and checked."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from bench.devices.android.tools import FILES

    tools = subparsers.add_parser("tools", help="the tools bench pushes to phones")
    actions = tools.add_subparsers(dest="tools_action", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="download the nightly prebuilt benchmark_model for each ABI")
    fetch.add_argument("--abi", dest="abis", action="append", choices=sorted(FILES),
                       help="repeat for several (default: every ABI)")
    fetch.add_argument("--base-url", default=None, help="where the binaries are (default: the TFLite nightly bucket)")
    fetch.add_argument("--refresh", action="store_true", help="download again even when cached")
    fetch.set_defaults(handler=_fetch)


def _fetch(args: argparse.Namespace) -> int:
    from bench.devices.android.tools import FILES, fetch

    for tool in fetch(args.abis or list(FILES), base_url=args.base_url, refresh=args.refresh):
        state = "downloaded" if tool.downloaded else "cached"
        print(f"{tool.abi}: {state} {tool.path} ({tool.size_bytes} bytes, sha256 {tool.sha256}) from {tool.url}")
    return 0
