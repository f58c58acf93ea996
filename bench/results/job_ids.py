"""Job ids and variant labels, built and read here and nowhere else.

A job id names everything that makes a job what it is, so a resumed run finds the same jobs and two
runs can be matched job by job; the device comes first, so the rest matches across nights:

    local/efficientnet_lite0/int8/xnnpack/t2               a variant
    local/efficientnet_lite0/dynamic@160/xnnpack/t2        the dynamic variant timed at 160x160
    local/efficientnet_lite0/int8/xnnpack/t2/with-fp32     int8 run at the same time as fp32
    local/pipeline-cascade/xnnpack/t1                      the [[run.pipelines]] named cascade, frame by frame

The variant a table shows is `int8`, `dynamic@160`, or `int8 with fp32`.
"""

from __future__ import annotations

from collections.abc import Sequence

_TOGETHER = "/with-"


def variant_label(variant: str, input_size: int | None = None, together: Sequence[str] = ()) -> str:
    """The variant as tables show it."""
    if together:
        return f"{variant} with {'+'.join(v for v in together if v != variant)}"
    return variant if input_size is None else f"{variant}@{input_size}"


def job_id(device: str, model: str, variant: str, accelerator: str, threads: int, input_size: int | None = None,
           together: Sequence[str] = ()) -> str:
    """The id of a model's job (`model` as ids name it: the zoo name or a file's stem)."""
    base = f"{device}/{model}/{variant_label(variant, input_size)}/{accelerator}/t{threads}"
    return base + (_TOGETHER + "+".join(v for v in together if v != variant) if together else "")


def frames_job_id(device: str, name: str, accelerator: str, threads: int) -> str:
    return f"{device}/pipeline-{name}/{accelerator}/t{threads}"


def solo_id(job_id: str) -> str:
    """The id of the same job run alone (a job run together is its solo id plus `/with-...`)."""
    return job_id.split(_TOGETHER, 1)[0]


def without_device(job_id: str) -> str:
    """What a job is on any device: its id past the device (`efficientnet_lite0/int8/xnnpack/t2`)."""
    return job_id.split("/", 1)[-1]
