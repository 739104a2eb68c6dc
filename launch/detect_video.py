"""Benchmark / runner of the MediaPipe detector on one video: people per frame and fps per stage.

Run in the detector environment (``bash launch/make_detect_env.sh``)::

    .venv-detect/bin/python launch/detect_video.py --input=../shared/data/video/vtest.avi \
        --output_dir=/tmp/vtest_kp --detect.num_frames=50

Prints the per-stage frames per second and a histogram of people per frame; the last line is
the JSON summary.
"""
from __future__ import annotations

import json

from absl import app, flags
from ml_collections import config_flags

from sfv_jax.detect.config import detect_config  # noqa: E402

_INPUT = flags.DEFINE_string("input", None, "Video or image.", required=True)
_OUTPUT = flags.DEFINE_string("output_dir", None, "Output folder.", required=True)
_CFG = config_flags.DEFINE_config_dict("detect", detect_config(), "Detector settings.")


def main(argv: list[str]) -> None:
    del argv
    import numpy as np  # pylint: disable=import-outside-toplevel
    from sfv_jax.detect import video  # pylint: disable=import-outside-toplevel
    s = video.detect_video(_INPUT.value, _OUTPUT.value, _CFG.value)
    counts = np.asarray(s.pop("people_per_frame"))
    hist = {int(k): int(v) for k, v in zip(*np.unique(counts, return_counts=True))}
    print(f"{s['name']}: {s['frames']} frames in {s['seconds']['total']:.1f} s "
          f"({s['fps']['total']:.2f} fps end to end)")
    for stage in ("decode", "boxes", "pose", "write"):
        print(f"  {stage:7s} {s['seconds'][stage]:7.2f} s  {s['fps'][stage]:8.2f} fps")
    print(f"  people per frame: mean {counts.mean():.2f}, min {counts.min()}, max {counts.max()}, "
          f"histogram {hist}")
    s.update(people_hist=hist, people_min=int(counts.min()), people_max=int(counts.max()))
    print(json.dumps(s))


if __name__ == "__main__":
    app.run(main)
