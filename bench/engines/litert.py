"""Open a `.tflite` file with the LiteRT interpreter, turning its failures into one clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import ModelError


def load_interpreter(path: Path, num_threads: int = 1, use_xnnpack: bool = True) -> Any:
    """Return an allocated LiteRT interpreter, or raise ModelError saying what to do."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; build it with: python -m bench models build")
    try:
        resolver = OpResolverType.AUTO if use_xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads,
                                  experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: LiteRT cannot load it ({first_line}); is it a valid .tflite file?") from exc
    return interpreter
