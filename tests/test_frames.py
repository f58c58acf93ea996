"""A pipeline of models fed frame by frame on the host: a small model on every frame, a big one on some."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.config import ConfigError, config_from_dict, validate
from bench.devices.base import RunSettings
from bench.plan import Job
from bench.results.device_records import DeviceInfo, Platform
from bench.run.builds import RunBuilds
from bench.run.context import RunContext
from bench.run.frames import measure_frames

PIPELINE = ('[[run.pipelines]]\nname = "fp16-then-fp32"\n'
            'stages = [{ variant = "fp16" }, { variant = "fp32", every = 4 }]\n')


def test_a_pipeline_on_the_host(lite0_variants, session_cache: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BENCH_CACHE", str(session_cache))  # the session's variants: nothing is rebuilt
    config = tmp_path / "bench.toml"
    config.write_text('[run]\nvariants = ["fp16"]\nthreads = [1]\nnum_runs = 5\nmin_secs = 0.1\n\n' + PIPELINE +
                      "frames = 40\nrate_hz = 1000\n")
    capsys.readouterr()
    assert main(["run", "--config", str(config), "--json"]) in (0, 2)
    results = {r["job_id"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    pipeline = results["local/pipeline-fp16-then-fp32/xnnpack/t1"]
    assert pipeline["status"] == "ok" and pipeline["model"] == "pipeline:fp16-then-fp32", pipeline
    facts = pipeline["pipeline"]
    assert [(s["variant"], s["runs"]) for s in facts["stages"]] == [("fp16", 40), ("fp32", 10)]
    assert facts["frames"] == 40 == pipeline["latency_ms"]["count"]
    # a frame is the stages it went through: never faster than its first stage alone
    assert pipeline["latency_ms"]["p50"] >= 0.9 * facts["stages"][0]["p50_ms"]
    assert pipeline["latency_ms"]["max"] >= facts["stages"][0]["p50_ms"] + 0.5 * facts["stages"][1]["p50_ms"]
    # frames offered every millisecond to a model that takes milliseconds: most are dropped
    assert facts["dropped_share"] > 0.5 and facts["fps"] > 0


def test_a_pipeline_is_checked_when_the_config_is_read() -> None:
    bad = {"run": {"pipelines": [{"name": "x", "stages": [{"variant": "fp32", "every": 0}]}]}}
    with pytest.raises(ConfigError, match="every"):
        validate(config_from_dict(bad))
    with pytest.raises(ConfigError, match="name"):
        validate(config_from_dict({"run": {"pipelines": [{"stages": [{"variant": "fp32"}]}]}}))


def test_a_phone_says_it_cannot_run_a_pipeline() -> None:
    class Phone:  # a device with no execute_frames
        alias = "pixel"

    config = validate(config_from_dict({"run": {"pipelines": [{"name": "p", "stages": [{"variant": "fp32"}]}]}}))
    job = Job(job_id="pixel/pipeline-p/xnnpack/t1", device="pixel", model="efficientnet_lite0", variant="pipeline",
              accelerator="xnnpack", threads=1, frames="p")
    context = RunContext(run_id="r", config=config, alias="pixel", device=Phone(),  # type: ignore[arg-type]
                         info=DeviceInfo(id="p", platform=Platform.ANDROID, model="Pixel"),
                         builds=RunBuilds(config, Path("."), Platform.ANDROID), images=None,
                         settings=RunSettings(), sustained=None, gate=None)
    with pytest.raises(Exception, match="run pipelines with --device local"):
        measure_frames(context, job)
