"""Raw videos in: the built-in detector, the HMR-free initializer, then the paper's solve.

    bash launch/make_detect_env.sh          # once: the detector's own environment (MediaPipe)
    python -m sfv_jax.main --config=configs/video.py --workdir=DIR --config.inputs.dir=VIDEOS

For every entry without keypoints (a bare video file, or a folder holding only a video) the
detector (person boxes + MediaPipe Pose, sfv_jax/detect) writes OpenPose-style keypoints and
MediaPipe's 3D world landmarks to DIR/detections/<video>/; the tracker makes tracks; each
track's first 3D estimate comes from fitting the body model to the world landmarks and the 2D
keypoints (sfv_jax/fitting.py: fit_detections); then the paper's temporal solve and the usual
outputs. Detector keys are under `detect`, initializer keys under `fitting`.

The solve fits the detector's own BODY_25 points, as the initializer does. HMR's cocoplus set,
which the paper fitted to OpenPose's points, places the hips 4.4 cm and the neck 2.3 cm from
where BODY_25 has them, and every frame's fit carries that offset (accuracy benchmark, --init
fit2d, 7 clips x 4 views: cocoplus -> BODY_25 solved PA-MPJPE 75.7 -> 74.9 mm, 2D error
against the truth 7.1 -> 6.8 px).
"""
import ml_collections

from sfv_jax.job_config import job_config


def get_config() -> ml_collections.ConfigDict:
    c = job_config()
    c.model.keypoints = "body25"
    c.inputs.detect_missing = True
    return c
