"""The host itself as a device: the embedded default, and the reference phones are compared against."""

from bench.devices.local.backend import LocalDevice

__all__ = ["LocalDevice"]
