"""`bench tools fetch` against a local HTTP server (never the internet): checked, cached, recorded."""

from __future__ import annotations

import functools
import hashlib
import json
import struct
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.cli import main
from bench.devices.android.tools import FILES, cached_tool


def _elf(machine: int) -> bytes:
    header = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9 + struct.pack("<HH", 3, machine)
    return header + b"\0" * 200


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    site = tmp_path / "site"
    site.mkdir()
    (site / FILES["arm64-v8a"]).write_bytes(_elf(183))
    (site / FILES["x86_64"]).write_bytes(_elf(183))  # mislabelled: an AArch64 binary under the x86_64 name
    (site / FILES["x86"]).write_bytes(b"<html>moved</html>")
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", site
    httpd.shutdown()


def test_fetch_checks_caches_and_records_the_tool(server: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, site = server
    assert main(["tools", "fetch", "--abi", "arm64-v8a", "--base-url", url]) == 0
    assert "arm64-v8a: downloaded" in capsys.readouterr().out
    path = cached_tool("arm64-v8a")
    assert path is not None and path.read_bytes() == (site / FILES["arm64-v8a"]).read_bytes()
    record = json.loads((path.parent.parent / "tools.json").read_text())["arm64-v8a"]
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and record["url"].startswith(url)
    (site / FILES["arm64-v8a"]).unlink()  # a second fetch does not download
    assert main(["tools", "fetch", "--abi", "arm64-v8a", "--base-url", url]) == 0
    assert "arm64-v8a: cached" in capsys.readouterr().out


@pytest.mark.parametrize(("abi", "message"), [
    ("x86_64", "built for ELF machine 183, not 62"),
    ("x86", "is not an executable"),
    ("armeabi-v7a", "cannot download"),  # 404
])
def test_a_wrong_or_missing_binary_is_refused(server: tuple[str, Path], abi: str, message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "fetch", "--abi", abi, "--base-url", server[0]]) == 1
    assert message in capsys.readouterr().err
    assert cached_tool(abi) is None
