"""Magnitude pruning to a target sparsity with tensorflow-model-optimization, then distillation.

One-shot 50% pruning destroys EfficientNet-Lite0 (its 1x1 projection convolutions are very
sensitive), so the recipe is:

1. one global magnitude ranking across every prunable weight (1x1 convolutions and the dense layer)
   picks the threshold that prunes the target fraction overall; each layer's rate is the fraction of
   its own weights under that threshold, so small sensitive layers lose far less than 50%;
2. `prune_low_magnitude` with a `ConstantSparsity` schedule at that rate per layer;
3. fine-tuning by distillation from the FP32 model (KL divergence to its softmax) on unlabelled
   calibration images with random crops and flips, BatchNorm left training, for a bounded CPU time.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.progress import Bar

log = logging.getLogger(__name__)

# Per-layer rounding in tfmot's mask may leave the overall rate a few weights under target.
_TARGET_MARGIN = 1e-3


@dataclass(frozen=True, slots=True, kw_only=True)
class PruningSettings:
    target_sparsity: float = 0.5
    budget_s: float = 600.0  # fine-tuning wall time; 0 = one-shot pruning, no fine-tuning
    batch_size: int = 16
    learning_rate: float = 2e-4  # peak; decays to 0 on a cosine over the time budget
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"target_sparsity": self.target_sparsity, "budget_s": self.budget_s, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "seed": self.seed}


@dataclass(frozen=True, slots=True, kw_only=True)
class PruningReport:
    layer_rates: dict[str, float]  # target rate per layer from the global ranking
    threshold: float
    steps: int
    images_seen: int
    finetune_s: float
    final_kl: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"layer_target_rates": {k: round(v, 4) for k, v in self.layer_rates.items()},
                "global_magnitude_threshold": self.threshold, "finetune_steps": self.steps,
                "finetune_images_seen": self.images_seen, "finetune_duration_s": round(self.finetune_s, 1),
                "final_distillation_kl": self.final_kl}


def is_prunable(layer: Any) -> bool:
    """1x1 convolutions and dense layers."""
    kind = type(layer).__name__
    if kind == "Dense":
        return True
    return kind == "Conv2D" and tuple(layer.kernel_size) == (1, 1)


def global_layer_rates(model: Any, target: float) -> tuple[dict[str, float], float]:
    """Return each prunable layer's rate under one global magnitude threshold, and the threshold."""
    kernels = {layer.name: np.abs(layer.get_weights()[0]).ravel() for layer in model.layers if is_prunable(layer)}
    everything = np.sort(np.concatenate(list(kernels.values())))
    threshold = float(everything[min(len(everything) - 1, int(np.ceil((target + _TARGET_MARGIN) * len(everything))))])
    rates = {name: float(np.mean(values < threshold)) for name, values in kernels.items()}
    return rates, threshold


def prune_and_distill(teacher: Any, inputs: np.ndarray, settings: PruningSettings) -> tuple[Any, PruningReport]:
    """Return a pruned, fine-tuned copy of `teacher` (pruning wrappers stripped) and what was done.

    `inputs` are float (N, H, W, 3) model inputs of calibration images at the model's input size.
    """
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    tf.random.set_seed(settings.seed)
    rates, threshold = global_layer_rates(teacher, settings.target_sparsity)
    student_base = keras.models.clone_model(teacher)
    student_base.set_weights(teacher.get_weights())

    def wrap(layer: Any) -> Any:
        if layer.name not in rates:
            return layer
        schedule = tfmot.sparsity.keras.ConstantSparsity(min(rates[layer.name], 0.99), begin_step=0, frequency=50)
        return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)

    student = keras.models.clone_model(student_base, clone_function=wrap)
    step_callback = tfmot.sparsity.keras.UpdatePruningStep()
    step_callback.set_model(student)
    step_callback.on_train_begin()

    size = int(inputs.shape[1])
    dataset = (
        tf.data.Dataset.from_tensor_slices(inputs.astype(np.float32))
        .shuffle(len(inputs), seed=settings.seed, reshuffle_each_iteration=True)
        .repeat()
        .map(lambda image: _augment(image, size, tf), num_parallel_calls=tf.data.AUTOTUNE)
        .batch(settings.batch_size)
        .prefetch(2)
    )
    optimizer = keras.optimizers.Adam(learning_rate=settings.learning_rate)
    kl = keras.losses.KLDivergence()

    def distill_step(images: Any) -> Any:
        target = teacher(images, training=False)
        with tf.GradientTape() as tape:
            loss = kl(target, student(images, training=True))
        grads = tape.gradient(loss, student.trainable_variables)
        optimizer.apply_gradients(zip(grads, student.trainable_variables, strict=True))
        return loss

    train_step = tf.function(distill_step)
    start = time.monotonic()
    steps, last_loss = 0, None
    batches = iter(dataset)
    bar = Bar(total=settings.budget_s, desc=f"pruned{100 * settings.target_sparsity:.0f} fine-tune", unit="s")
    shown = 0.0
    while True:
        step_callback.on_train_batch_begin(batch=steps)
        # Masks are updated and applied eagerly here: inside a custom tf.function training step the
        # wrappers' own update ops do not run, and the model would come out dense.
        _apply_masks(student)
        if settings.budget_s <= 0:
            break
        # Cosine decay over the time budget: the last steps, at a small rate, settle the weights.
        progress = min(1.0, (time.monotonic() - start) / settings.budget_s)
        optimizer.learning_rate.assign(settings.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress)))
        last_loss = float(train_step(next(batches)))
        steps += 1
        elapsed = time.monotonic() - start
        bar.advance(min(elapsed, settings.budget_s) - shown)
        shown = min(elapsed, settings.budget_s)
        bar.describe(f"step {steps}, KL {last_loss:.4f}")
        if steps % 20 == 0:
            log.info("pruning fine-tune: step %d, KL %.4f, %.0f s", steps, last_loss, elapsed)
        if elapsed >= settings.budget_s:
            break
    bar.close()
    _apply_masks(student)  # the last optimizer step touched pruned weights: zero them again
    stripped = tfmot.sparsity.keras.strip_pruning(student)
    report = PruningReport(
        layer_rates=rates, threshold=threshold, steps=steps, images_seen=steps * settings.batch_size,
        finetune_s=time.monotonic() - start, final_kl=last_loss,
    )
    return stripped, report


def _apply_masks(student: Any) -> None:
    """Recompute each wrapper's mask when its schedule says so, then set weights = weights * mask."""
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

    for layer in student.layers:
        if isinstance(layer, pruning_wrapper.PruneLowMagnitude):
            layer.pruning_obj.conditional_mask_update()
            layer.pruning_obj.weight_mask_op()


def _augment(image: Any, size: int, tf: Any) -> Any:
    """Random crop of 60-100% of the side, resized back, random horizontal flip.

    Bicubic, like the evaluation preprocessing: a blurrier bilinear upscale teaches the student on
    images it will never see.
    """
    side = tf.cast(tf.round(tf.random.uniform([], 0.6, 1.0) * size), tf.int32)
    crop = tf.image.random_crop(image, tf.stack([side, side, 3]))
    return tf.image.random_flip_left_right(tf.image.resize(crop, [size, size], method="bicubic"))
