"""Shared fixtures: ../shared data (skipped where absent) and one variant cache per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IMAGENET_SAMPLE = SHARED / "imagenet-val-sample"
TOOL_OUTPUTS = SHARED / "tool-outputs"


@pytest.fixture(scope="session")
def imagenet_sample() -> Path:
    if not (IMAGENET_SAMPLE / "LOC_synset_mapping.txt").is_file():
        pytest.skip(f"needs the ImageNet val sample at {IMAGENET_SAMPLE} (../shared beside the checkout)")
    return IMAGENET_SAMPLE


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole session: variants and preprocessed tensors are built once."""
    return tmp_path_factory.mktemp("bench-cache")
