"""The lab inventory: `devices/*.toml` maps aliases to phones.

    [[device]]
    alias = "pixel"                 # what `--device` takes
    platform = "android"
    serial = "1A2B3C4D"             # or: model = "Pixel 7" (the attached phone whose model matches)
    tags = ["flagship", "tensor"]
    accelerators = ["xnnpack", "gpu", "nnapi"]
    benchmark_model = "tools/benchmark_model-arm64"   # optional: the tool for this phone's ABI
    run_eval = "tools/run_eval-arm64"                 # optional: ImageNet run_eval, then it scores accuracy

    [[device]]
    alias = "iphone"
    platform = "ios"
    udid = "00008110-001A2B3C4D5E801E"  # `python -m bench devices` lists it
    runner_ipa = "ios/BenchRunner.ipa"   # optional: installed when the app is missing or older

Paths in a file are relative to that file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.tomltypes import checked, shown

PLATFORMS = ("android", "ios")
_KEYS = {"alias", "platform", "serial", "model", "tags", "accelerators", "benchmark_model", "run_eval", "udid",
         "runner_ipa"}


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryEntry:
    alias: str
    platform: str
    serial: str | None = None
    model: str | None = None
    tags: tuple[str, ...] = ()
    accelerators: tuple[str, ...] = ()
    benchmark_model: Path | None = None
    run_eval: Path | None = None
    runner_ipa: Path | None = None
    source: Path | None = None


_TYPES: dict[str, Any] = {"alias": str, "platform": str, "serial": str, "model": str, "udid": str,
                          "tags": tuple[str, ...], "accelerators": tuple[str, ...], "benchmark_model": str,
                          "run_eval": str, "runner_ipa": str}


def _entry(raw: Any, source: Path) -> InventoryEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: device = {shown(raw)}; each phone is a [[device]] table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown} in a [[device]]; known: {sorted(_KEYS)}")
    raw = {key: checked(value, _TYPES[key], str(source), f"[[device]] {key}") for key, value in raw.items()}
    alias = raw.get("alias")
    if not isinstance(alias, str) or not alias:
        raise ConfigError(f"{source}: every [[device]] needs alias = \"name\"")
    platform = raw.get("platform", "android")
    if platform not in PLATFORMS:
        raise ConfigError(f"{source}: device {alias!r} has platform {platform!r}; use one of {', '.join(PLATFORMS)}")
    serial = raw.get("serial") or raw.get("udid")
    if not serial and not raw.get("model"):
        raise ConfigError(f"{source}: device {alias!r} needs serial = \"...\" (see `adb devices`) or model = \"...\"")
    tool, evaluator, ipa = raw.get("benchmark_model"), raw.get("run_eval"), raw.get("runner_ipa")
    return InventoryEntry(alias=alias, platform=platform, serial=serial, model=raw.get("model"),
                          tags=tuple(raw.get("tags", ())), accelerators=tuple(raw.get("accelerators", ())),
                          benchmark_model=(source.parent / tool).resolve() if tool else None,
                          run_eval=(source.parent / evaluator).resolve() if evaluator else None,
                          runner_ipa=(source.parent / ipa).resolve() if ipa else None, source=source)


def load_inventory(folders: list[Path], files: tuple[Path, ...] = ()) -> dict[str, InventoryEntry]:
    """Read every `*.toml` in `folders` (missing folders are skipped; not their subfolders, so
    devices/examples/ is not an inventory) and the `[[device]]` tables of `files`; aliases must be unique."""
    paths = [p for folder in folders for p in (sorted(folder.glob("*.toml")) if folder.is_dir() else [])]
    entries: dict[str, InventoryEntry] = {}
    for path in dict.fromkeys([*paths, *(f for f in files if f.resolve() not in {p.resolve() for p in paths})]):
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}); fix it or move it out of {path.parent}") from exc
        devices = data.get("device", [])
        if not isinstance(devices, list):  # [device] instead of [[device]]: one table, not a list of them
            raise ConfigError(f"{path}: [device] must be [[device]] (two brackets: one table per phone)")
        for raw in devices:
            entry = _entry(raw, path)
            if entry.alias in entries:
                raise ConfigError(f"device alias {entry.alias!r} is defined in {entries[entry.alias].source} "
                                  f"and {path}; rename one")
            entries[entry.alias] = entry
    return entries
