"""The pymobiledevice3 names bench's iOS port uses (bench.devices.ios.pmd3_port.LIBRARY_USE), checked against
the installed release: each exists, is awaited / iterated / entered as the port does, and takes the keyword
arguments the port passes. A release that moves one fails here, not on a phone."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

pytest.importorskip("pymobiledevice3", reason="the ios extra (pymobiledevice3) is not installed")

from bench.devices.ios.pmd3_port import LIBRARY_USE


def _resolve(module: str, name: str) -> tuple[Any, Any]:
    """(the owner, the object) for `Class.member` or a module-level name; the object unwrapped of decorators."""
    owner: Any = importlib.import_module(module)
    parts = name.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    return owner, inspect.getattr_static(owner, parts[-1], None)


def _problem(module: str, name: str, kind: str, keywords: tuple[str, ...]) -> str | None:
    owner, found = _resolve(module, name)
    member = name.split(".")[-1]
    if kind == "attribute":  # set on the instance: the constructor names it
        init = inspect.getsource(owner.__init__)
        return None if f"self.{member} =" in init or found is not None else "not set by the constructor"
    if found is None:
        return "missing"
    if kind == "property":
        return None if isinstance(found, property) else f"not a property ({type(found).__name__})"
    if isinstance(found, classmethod | staticmethod):
        found = found.__func__
    if kind in ("class", "async context manager"):
        if not inspect.isclass(found):
            return f"not a class ({type(found).__name__})"
        if kind == "async context manager" and not (hasattr(found, "__aenter__") and hasattr(found, "__aexit__")):
            return "not an async context manager"
        target = found.__init__
    else:
        target = inspect.unwrap(found)
        is_kind = {"coroutine": inspect.iscoroutinefunction, "async generator": inspect.isasyncgenfunction}[kind]
        if not is_kind(target):
            return f"is no {kind} function"
    parameters = inspect.signature(inspect.unwrap(target)).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    missing = [k for k in keywords if k not in parameters and not takes_any]
    return f"takes no {', '.join(missing)}" if missing else None


@pytest.mark.parametrize(("module", "name", "kind", "keywords"), LIBRARY_USE,
                         ids=[f"{m.rsplit('.', 1)[-1]}.{n}" for m, n, _, _ in LIBRARY_USE])
def test_each_name_the_port_uses_is_what_the_port_expects(module: str, name: str, kind: str,
                                                           keywords: tuple[str, ...]) -> None:
    assert _problem(module, name, kind, keywords) is None, f"{module}.{name}: {_problem(module, name, kind, keywords)}"


def test_the_port_uses_no_pymobiledevice3_name_the_list_leaves_out() -> None:
    """Every `from pymobiledevice3... import X` in the port is in LIBRARY_USE (so the list stays whole)."""
    import re

    import bench.devices.ios.pmd3_port as port

    listed = {(m, n.split(".")[0]) for m, n, _, _ in LIBRARY_USE}
    source = inspect.getsource(port)
    imported = {(m, n.strip()) for m, names in re.findall(r"from (pymobiledevice3[\w.]*) import ([\w, ]+)", source)
                for n in names.split(",")}
    assert imported - {("pymobiledevice3", "usbmux")} <= listed | {("pymobiledevice3.usbmux", "list_devices")}, \
        imported - listed


def test_a_name_that_moved_is_caught() -> None:
    assert _problem("pymobiledevice3.services.afc", "AfcService.no_such_call", "coroutine", ()) == "missing"
    assert _problem("pymobiledevice3.services.afc", "AfcService.push", "coroutine", ("no_such_keyword",)) == \
        "takes no no_such_keyword"
    assert _problem("pymobiledevice3.services.afc", "AfcService.push", "async generator", ()) == \
        "is no async generator function"


def test_a_broken_connection_is_opened_again_once_then_reported() -> None:
    from bench.devices.ios.pmd3_port import Pmd3Port
    from bench.devices.ios.port import IOSFault, IOSPortError

    class ConnectionTerminatedError(Exception):  # what pymobiledevice3 raises for a link that died
        pass

    class Closeable:
        closed = False

        async def close(self) -> None:
            self.closed = True

    port = Pmd3Port(usbmux_address="127.0.0.1:1")
    try:
        stale = Closeable()
        port._lockdown["udid-1"] = stale
        attempts: list[int] = []

        async def flaky() -> str:
            attempts.append(len(attempts))
            if len(attempts) == 1:
                raise ConnectionTerminatedError("the phone was unplugged")
            return "answer"

        assert port._call(flaky, udid="udid-1") == "answer" and len(attempts) == 2
        assert stale.closed and "udid-1" not in port._lockdown  # the dead lockdown was dropped, not reused

        async def dead() -> str:
            raise ConnectionTerminatedError("still unplugged")

        with pytest.raises(IOSPortError) as raised:
            port._call(dead, udid="udid-1")
        assert raised.value.fault is IOSFault.TRANSFER  # tried twice, then the user's fix
    finally:
        port.close()
