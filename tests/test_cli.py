"""The command line as a user meets it: help without TensorFlow, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from tests.imagefixtures import class_folders


def test_help_does_not_import_tensorflow() -> None:
    code = ("import sys; from bench.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TF', 'tensorflow' in sys.modules, 'ai_edge_litert' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "TF False False"
    assert "models" in done.stdout and "datasets" in done.stdout


def test_python_dash_m_bench_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("bench ")


def test_models_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["models"][0]["name"] == "efficientnet_lite0"
    assert listing["models"][0]["preprocess"]["crop_fraction"] == 0.875


def test_datasets_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = class_folders(tmp_path / "val")
    assert main(["datasets", "check", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["layout"], report["images"], report["classes"]) == ("class-folders", 12, 4)


def test_datasets_check_exits_1_when_it_lists_unreadable_images(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = class_folders(tmp_path / "val")
    image = next(root.rglob("*.JPEG"))
    image.write_bytes(image.read_bytes()[:200])  # truncated
    (root / "README.txt").write_text("not an image, and no fault")
    assert main(["datasets", "check", str(root)]) == 1
    out, err = capsys.readouterr()
    assert "unreadable: 1" in out and image.name in out
    assert err.count("\n") == 1 and "1 unreadable image(s)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["datasets", "check", "/no/such/folder"], "does not exist; pass --imagenet"),
        (["models", "build", "--variants", "int4"], "unknown variant 'int4'; known: fp32"),
        (["models", "build", "--model", "resnet9000"], "unknown model 'resnet9000'"),
        (["models", "info", "/no/such/model.tflite"], "does not exist; build it with"),
        (["serve", "/no/such/site"], "has no index.html; write the site first with: python -m bench publish"),
    ],
)
def test_bad_input_is_one_line_naming_the_next_step(argv: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_publish_writes_the_site_and_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.sitefixtures import make_store

    make_store(tmp_path / "s.sqlite").close()
    assert main(["publish", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    assert "for 2 run(s)" in out and "python -m bench serve" in out and (tmp_path / "site/index.html").is_file()
    assert main(["report", "latest", "--format", "html", "--store", str(tmp_path / "s.sqlite"),
                 "--out", str(tmp_path / "one")]) == 0
    assert len(list((tmp_path / "one/runs").iterdir())) == 1
    capsys.readouterr()
    assert main(["report", "nope", "--format", "html", "--store", str(tmp_path / "s.sqlite")]) == 1
    assert "list them with: python -m bench runs" in capsys.readouterr().err


def test_parse_a_saved_log(capsys: pytest.CaptureFixture[str]) -> None:
    logs = Path(__file__).parent / "data" / "tool-outputs"
    assert main(["parse", str(logs / "benchmark_model-current-ours.txt"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inference"]["count"] == 80 and report["delegates"][0]["name"] == "XNNPACK"
    assert main(["parse", str(logs / "benchmark_model-crash-ours.txt")]) == 1
    assert "failed (Didn't find op" in capsys.readouterr().out


def test_corrupt_model_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"TFL3" + bytes(200))
    assert main(["models", "info", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert "LiteRT cannot load it" in err and "\n" not in err


@pytest.mark.slow
def test_models_info_on_int8(lite0_variants, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["models", "info", str(lite0_variants["int8"].path)]) == 0
    out = capsys.readouterr().out
    assert "uint8, quantised scale" in out and "CONV_2D x" in out and "FULLY_CONNECTED:int8" in out
