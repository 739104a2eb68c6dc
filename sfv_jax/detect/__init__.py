"""Optional raw-video front end: person boxes + MediaPipe Pose -> OpenPose-style keypoints.

MediaPipe lives in its own environment (``bash launch/make_detect_env.sh`` -> ``.venv-detect``)
because its wheel drags in opencv-contrib-python, which overwrites the core's ``cv2``. Inside
that environment run ``python -m sfv_jax.detect --input=... --output_dir=...``; from the core
environment call ``external.run_detector`` (a subprocess). Importing this package never imports
mediapipe; ``PoseDetector`` does when it is built.
"""
from sfv_jax.detect.config import DetectSettings, detect_config
from sfv_jax.detect.landmarks import Person

__all__ = ["DetectSettings", "detect_config", "Person"]
