"""The one error root of bench and its few meaningful children.

Every message says what happened and the next command to try; the CLI prints it on one line
and maps the class to an exit code.
"""

from __future__ import annotations


class BenchError(Exception):
    """Something went wrong that the user can act on."""

    def __init__(self, *args: object, output: str | None = None) -> None:
        super().__init__(*args)
        self.output = output  # what a tool printed before it failed: kept with the failed job


class ConfigError(BenchError):
    """A config file, a flag or an option value is invalid."""


class DeviceError(BenchError):
    """A device could not be reached or did not behave as expected."""


class DeviceNotReadyError(DeviceError):
    """A device is reachable but not in a state to benchmark (hot, unauthorized, low battery)."""


class DeviceHungError(DeviceError):
    """A device, or the tool on it, stopped answering and was killed: a transport fault worth one more try."""


class ToolFailedError(BenchError):
    """A benchmark or conversion tool exited with an error."""


class DatasetError(BenchError):
    """A dataset folder is missing, unreadable or in a layout we do not know."""


class ModelError(BenchError):
    """A model file is missing, corrupt, or cannot be turned into the asked variant."""


class ResultFormatError(BenchError):
    """A stored result or tool output could not be read."""
