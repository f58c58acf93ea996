"""bench: on-device ML benchmarking driven from a host PC."""

__version__ = "0.1.0"
