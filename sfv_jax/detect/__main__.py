"""CLI: ``python -m sfv_jax.detect --input=video.avi --output_dir=DIR [--detect.key=value ...]``.

Runs in the detector environment (``launch/make_detect_env.sh``). Prints frames per second of
each stage; the last line is the JSON summary (see ``video.detect_video``).
"""
from __future__ import annotations

import json
import os

from absl import app, flags
from ml_collections import config_flags

from sfv_jax.detect.config import DetectSettings, detect_config

_INPUT = flags.DEFINE_multi_string("input", None, "Video or image file(s).", required=True)
_OUTPUT = flags.DEFINE_string("output_dir", None, "Output folder (one subfolder per input when "
                              "several inputs are given).", required=True)
_CFG = config_flags.DEFINE_config_dict("detect", detect_config(), "Detector settings.")


def main(argv: list[str]) -> None:
    del argv
    from sfv_jax.detect import video  # pylint: disable=import-outside-toplevel
    settings = DetectSettings.from_config(_CFG.value)  # the edge: flags -> typed settings
    summaries = []
    for path in _INPUT.value:
        out = _OUTPUT.value
        if len(_INPUT.value) > 1:
            out = os.path.join(out, os.path.splitext(os.path.basename(path))[0])
        s = video.detect_video(path, out, settings)
        print(f"{s['name']}: {s['frames']} frames, {s['mean_people']:.2f} people/frame; fps " +
              ", ".join(f"{k} {v}" for k, v in s["fps"].items()))
        s.pop("people_per_frame")
        summaries.append(s)
    print(json.dumps(summaries if len(summaries) > 1 else summaries[0]))


if __name__ == "__main__":
    app.run(main)
