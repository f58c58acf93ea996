"""Config loading and validation, and the plan's stable job ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import Config, load_config, with_overrides
from bench.errors import ConfigError
from bench.plan import Job, plan_jobs


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_IMAGENET", raising=False)
    config = load_config(None)
    assert config.run.variants == ("fp32", "int8", "pruned50", "res160")
    assert config.dataset.imagenet is None


def test_file_then_command_line_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_IMAGENET", raising=False)
    path = tmp_path / "bench.toml"
    path.write_text('[run]\nvariants = ["fp32", "int8"]\nthreads = [1, 2]\nnum_runs = 20\nstrict = true\n'
                    '[dataset]\nimages = 100\n')
    config = load_config(path)
    assert (config.run.variants, config.run.threads, config.run.num_runs) == (("fp32", "int8"), (1, 2), 20)
    assert config.run.strict and not load_config(None).run.strict  # exit 2 on unstable only when asked
    config = with_overrides(config, threads=[4], images=None, num_runs=30)
    assert (config.run.threads, config.run.num_runs, config.dataset.images) == ((4,), 30, 100)


def test_environment_gives_the_imagenet_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_IMAGENET", str(tmp_path))
    assert load_config(None).dataset.imagenet == tmp_path


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[run]\nthreadz = [1]\n", "unknown key"),
        ("[runs]\n", "unknown section"),
        ("[run]\nthreads = 2\n", "expected a list of whole numbers"),
        ("[run\n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"threads": [0]}, "at least 1"),
        ({"accelerators": ["tpu"]}, "unknown accelerator"),
        ({"subset": "random"}, "subset must be one of"),
        ({"imagenet": Path("/no/such/dir")}, "does not exist"),
        ({"images": 0}, "at least 1"),
    ],
)
def test_bad_values_are_refused(overrides: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        with_overrides(Config(), **overrides)


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Path("/no/such/bench.toml"))


def test_plan_is_the_full_product_with_stable_ids() -> None:
    config = with_overrides(Config(), variants=["fp32", "dynamic"], accelerators=["xnnpack", "none"],
                            threads=[1, 2], dynamic_sizes=[224, 160])
    jobs = plan_jobs(config, "local", device_cores=8)
    assert len(jobs) == (1 + 2) * 2 * 2
    assert jobs[0].job_id == "local/efficientnet_lite0/fp32/xnnpack/t1"
    assert "local/efficientnet_lite0/dynamic@160/none/t2" in {j.job_id for j in jobs}
    assert plan_jobs(config, "local", 8) == jobs
    assert [Job.from_dict(j.to_dict()) for j in jobs] == jobs


def test_default_threads_follow_the_device() -> None:
    assert {j.threads for j in plan_jobs(Config(), "pixel", device_cores=8)} == {4}
    assert {j.threads for j in plan_jobs(Config(), "pixel", device_cores=2)} == {2}
    # on the host, one core is left to the OS and the harness
    assert {j.threads for j in plan_jobs(Config(), "local", device_cores=2, reserve_core=True)} == {1}
    assert {j.threads for j in plan_jobs(Config(), "local", device_cores=1, reserve_core=True)} == {1}
    assert {j.threads for j in plan_jobs(Config(), "local", device_cores=16, reserve_core=True)} == {4}


def test_two_files_with_one_name_are_refused() -> None:
    config = with_overrides(Config(), models=["a/net.tflite", "b/net.tflite"], variants=["original"])
    with pytest.raises(ConfigError, match="repeats jobs"):
        plan_jobs(config, "local", 2)


def test_an_iphone_plans_core_ml_compute_units_and_no_thread_counts() -> None:
    from bench.config import with_overrides
    from bench.errors import ConfigError
    from bench.results.device_records import Platform

    jobs = plan_jobs(Config(), "iphone", device_cores=6, platform=Platform.IOS)
    assert {(j.accelerator, j.threads) for j in jobs} == {("all", 1)}
    units = with_overrides(Config(), accelerators=["cpuOnly", "cpuAndNeuralEngine"])
    assert [j.job_id for j in plan_jobs(units, "iphone", 6, platform=Platform.IOS)][:2] == [
        "iphone/efficientnet_lite0/fp32/cpuOnly/t1", "iphone/efficientnet_lite0/fp32/cpuAndNeuralEngine/t1"]
    with pytest.raises(ConfigError, match="ios devices take accelerators all, cpuOnly"):
        plan_jobs(with_overrides(Config(), accelerators=["gpu"]), "iphone", 6, platform=Platform.IOS)
    with pytest.raises(ConfigError, match="android devices take accelerators xnnpack"):
        plan_jobs(units, "pixel", 8, platform=Platform.ANDROID)
