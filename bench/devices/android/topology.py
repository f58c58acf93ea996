"""A phone's CPU topology in one shell round trip: each CPU's highest clock and `cpu_capacity`.

    0 2016000 280        <- cpu number, cpufreq/cpuinfo_max_freq (kHz), cpu_capacity (absent on older kernels)
    7 3187200 1024

The mask and the default thread count come from it (bench.results.device_records.CpuTopology):
a Snapdragon 8 Gen 2 (1+2+2+3) or 888 (1+3+4) has one prime core, so pinning to "the cores with the
highest clock" alone would put four threads on one core; a Tensor G3 (4+4+1) likewise.
"""

from __future__ import annotations

from bench.results.device_records import CpuTopology

COMMAND = ("for c in /sys/devices/system/cpu/cpu[0-9]*; do "
           "echo \"${c##*cpu} $(cat $c/cpufreq/cpuinfo_max_freq 2>/dev/null) $(cat $c/cpu_capacity 2>/dev/null)\"; "
           "done")


def parse_topology(text: str) -> CpuTopology | None:
    """The answer to COMMAND; None when no CPU gave its clock (the phone hides cpufreq)."""
    max_khz: dict[int, int] = {}
    capacity: dict[int, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
            max_khz[int(fields[0])] = int(fields[1])
            if len(fields) >= 3 and fields[2].isdigit():
                capacity[int(fields[0])] = int(fields[2])
    return CpuTopology(max_khz=max_khz, capacity=capacity) if max_khz else None
