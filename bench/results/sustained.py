"""What a sustained job shows: latency and throughput minute by minute, dropped frames, throttling. Pure.

A sustained job is a run of consecutive windows (one launch of the tool each, e.g. 10 s), see
bench.run.sustained. From them:

- per minute: p50 / p90 / p99 where the tool gives every latency (the host, iPhones), the mean
  otherwise (benchmark_model prints only a summary); achieved FPS (runs over the windows' wall time);
- dropped frames at the requested rate, as a camera pipeline that keeps only the latest frame drops
  them: replaying every latency against frames arriving every 1/rate s (a frame that arrives while
  the model is busy is replaced by the next one), or, with only a window's mean, 1 - budget / mean
  when the mean exceeds the frame budget;
- the onset of throttling: the first window from which THROTTLE_WINDOWS windows in a row have a
  median (or mean) above the first minute's level by more than its noise (3 x 1.4826 x MAD of the
  first minute's windows, never under FLOOR); a run shorter than four minutes uses its first quarter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench.results.device_records import DeviceState
from bench.results.records import SustainedMinute, SustainedWindow
from bench.results.stats import center_ms

FLOOR = 0.05
NOISE_FACTOR = 3.0
THROTTLE_WINDOWS = 3
FIRST_MINUTE_S = 60.0


def window_center(window: SustainedWindow) -> float | None:
    """The window's median latency, or the tool's mean where that is all it gives."""
    return center_ms(window.latencies_ms, window.mean_ms)


def replay_latest_frame(latencies_ms: Sequence[float], rate_hz: float) -> tuple[int, int]:
    """(frames processed, frames offered) when frames arrive every 1/rate s and only the latest is kept."""
    period = 1.0 / rate_hz
    now, last_frame, processed = 0.0, -1, 0
    for latency in latencies_ms:
        frame = math.floor(now / period + 1e-9)
        if frame <= last_frame:  # the newest frame was already taken: wait for the next one
            frame = last_frame + 1
            now = frame * period
        last_frame = frame
        now += latency / 1000.0
        processed += 1
    offered = math.floor(now / period + 1e-9) + 1 if processed else 0
    return processed, max(offered, processed)


def dropped_frames(windows: Sequence[SustainedWindow], rate_hz: float) -> tuple[float | None, str | None]:
    """The share of frames offered at `rate_hz` that the model could not take, and how it was found."""
    if rate_hz <= 0 or not windows:
        return None, None
    if all(w.latencies_ms for w in windows):
        processed = offered = 0
        for window in windows:
            done, came = replay_latest_frame(window.latencies_ms, rate_hz)
            processed, offered = processed + done, offered + came
        return (1.0 - processed / offered if offered else None), "latest-frame replay of every latency"
    budget_ms = 1000.0 / rate_hz
    weighted = [(w.timed_s, 1.0 - budget_ms / max(budget_ms, w.mean_ms)) for w in windows if w.mean_ms]
    total = sum(t for t, _ in weighted)
    if not total:
        return None, None
    return (sum(t * d for t, d in weighted) / total,
            "from each window's mean latency against the frame budget (the tool prints no per-run list)")


def per_minute(windows: Sequence[SustainedWindow], rate_hz: float) -> list[SustainedMinute]:
    """Latency percentiles (or the mean), achieved FPS and dropped frames for each minute of the job."""
    minutes: dict[int, list[SustainedWindow]] = {}
    for window in windows:
        minutes.setdefault(int(window.start_s // 60), []).append(window)
    out = []
    for minute, group in sorted(minutes.items()):
        runs = sum(w.count for w in group)
        timed = sum(w.timed_s for w in group)
        p50 = p90 = p99 = mean = None
        if all(w.latencies_ms for w in group):
            pooled = np.concatenate([w.latencies_ms for w in group])
            p50, p90, p99 = (float(v) for v in np.percentile(pooled, [50, 90, 99]))
            mean = float(pooled.mean())
        else:
            counted = [(w.count, w.mean_ms) for w in group if w.mean_ms is not None]
            summarised = sum(c for c, _ in counted)
            mean = sum(c * m for c, m in counted) / summarised if summarised else None
        out.append(SustainedMinute(minute=minute, windows=len(group), runs=runs, fps=runs / timed if timed else None,
                                   p50_ms=p50, p90_ms=p90, p99_ms=p99, mean_ms=mean,
                                   dropped_share=dropped_frames(group, rate_hz)[0]))
    return out


def reference_s(duration_s: float) -> float:
    """The opening stretch whose level later windows are compared with: the first minute, or the first
    quarter of a run shorter than four minutes."""
    return min(FIRST_MINUTE_S, duration_s / 4.0)


def throttle_onset(windows: Sequence[SustainedWindow], samples: Sequence[tuple[float, DeviceState]] = (),
                   opening_s: float = FIRST_MINUTE_S) -> tuple[float | None, str]:
    """When the per-window latency rose, to stay, above the opening's level; (None, why) if it did not."""
    usable = [w for w in windows if window_center(w)]
    first = [w for w in usable if w.start_s < opening_s] or usable[:2]
    if len(first) < 2 or len(usable) < len(first) + THROTTLE_WINDOWS:
        return None, f"too short to tell: {len(usable)} windows, {len(first)} in the first {opening_s:.0f} s"
    centers = np.array([window_center(w) for w in first], dtype=float)
    level = float(np.median(centers))
    relative = centers / level - 1.0
    threshold = max(FLOOR, NOISE_FACTOR * 1.4826 * float(np.median(np.abs(relative - np.median(relative)))))
    limit = level * (1.0 + threshold)
    later = usable[len(first):]
    for i in range(len(later) - THROTTLE_WINDOWS + 1):
        run = later[i:i + THROTTLE_WINDOWS]
        if all((window_center(w) or 0.0) > limit for w in run):
            onset = run[0].start_s
            after = float(np.median([window_center(w) for w in later[i:]]))
            heat = _hottest_near(samples, onset)
            return onset, (f"from {onset:.0f} s on, the per-window latency stayed above the first {opening_s:.0f} s' "
                           f"{level:.3f} ms by more than {threshold:.0%} (median since: {after:.3f} ms, "
                           f"{after / level - 1:+.0%})" + (f"; the device was at {heat:.1f} °C" if heat else ""))
    return None, f"no sustained rise above the first {opening_s:.0f} s' {level:.3f} ms (+{threshold:.0%})"


def _hottest_near(samples: Sequence[tuple[float, DeviceState]], t_s: float) -> float | None:
    near = [(abs(t - t_s), s.hottest_c) for t, s in samples if s.hottest_c is not None]
    return min(near)[1] if near else None
