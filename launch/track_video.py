"""Tracks the pedestrians of a video with stand-in detections (until the keypoint detector lands).

Detections come from a real detector that needs no download, then a standing-person BODY_25
template is placed in each box (``sfv_jax.inputs.synthetic``) and ``track_people`` runs:
  --detector=hog     OpenCV's HOG people detector (cv2.HOGDescriptor_getDefaultPeopleDetector;
                     OpenCV 5's main module dropped it, OpenCV contrib still has it; see
                     launch/make_detect_env.sh), on frames upscaled by --upscale.
  --detector=motion  background subtraction (MOG2) for a static camera: moving blobs of
                     person-like size and aspect.
  --detector=auto    hog when available, else motion.

  python launch/track_video.py --video=../shared/data/video/vtest.avi --every=2

Prints one line per track, and a JSON summary as the last line.
"""
from __future__ import annotations

import json
import os
import time

import cv2
import numpy as np
from absl import app, flags


from sfv_jax.atomic import save_npz  # noqa: E402
from sfv_jax.inputs import save_tracks, track_people, tracking_config  # noqa: E402
from sfv_jax.inputs.synthetic import keypoints_in_boxes  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("video", "../shared/data/video/vtest.avi", "input video")
flags.DEFINE_enum("detector", "auto", ["auto", "hog", "motion"], "box detector")
flags.DEFINE_integer("every", 1, "run on every n-th frame")
flags.DEFINE_integer("max_frames", 0, "stop after this many video frames (0: all)")
flags.DEFINE_float("upscale", 2.0, "HOG: image upscale (vtest people are 70-100 px, HOG wants ~96+)")
flags.DEFINE_float("hog_min_weight", 0.3, "HOG: minimum SVM score of a detection")
flags.DEFINE_integer("min_track_frames", 10, "tracking_config().min_track_frames override")
flags.DEFINE_string("out", "", "optional .npz to save the tracks (sfv_jax.tracks/1 layout)")
flags.DEFINE_string("cache", "", "optional .npz of detections: read if it exists, else written")


def hog_detector(upscale: float, min_weight: float):
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        img = cv2.resize(frame, None, fx=upscale, fy=upscale) if upscale != 1 else frame
        rects, weights = hog.detectMultiScale(img, winStride=(8, 8), padding=(8, 8), scale=1.05)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / upscale
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        keep = weights >= min_weight
        rects, weights = rects[keep], weights[keep]
        # The 64x128 HOG window holds a ~96 px person with margins: shrink to the body.
        x, y, w, h = rects.T
        boxes = np.stack([x + 0.22 * w, y + 0.1 * h, x + 0.78 * w, y + 0.9 * h], axis=1)
        conf = np.clip(0.4 + 0.3 * weights, 0.2, 1.0)
        return boxes, conf

    return detect


def motion_detector():
    sub = cv2.createBackgroundSubtractorMOG2(history=200, varThreshold=25, detectShadows=True)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def detect(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fg = sub.apply(frame)
        fg = np.where(fg == 255, 255, 0).astype(np.uint8)  # drop shadows (127)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
        fg = cv2.dilate(fg, kernel, iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(fg)
        boxes, conf = [], []
        for x, y, w, h, area in stats[1:]:
            if h < 40 or w < 12 or not 1.2 <= h / w <= 5.0:
                continue
            boxes.append([x, y, x + w, y + h])
            conf.append(np.clip(area / (w * h) + 0.2, 0.2, 1.0))
        return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(conf)

    return detect


def main(argv: list[str]) -> None:
    del argv
    cap = cv2.VideoCapture(FLAGS.video)
    if not cap.isOpened():
        raise SystemExit(f"{FLAGS.video}: cannot open video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    kind = FLAGS.detector
    if kind == "auto":
        kind = "hog" if hasattr(cv2, "HOGDescriptor") else "motion"
    if kind == "hog" and not hasattr(cv2, "HOGDescriptor"):
        raise SystemExit(f"cv2 {cv2.__version__} has no HOGDescriptor; use --detector=motion or "
                         f"the environment of launch/make_detect_env.sh")
    detect = hog_detector(FLAGS.upscale, FLAGS.hog_min_weight) if kind == "hog" else motion_detector()

    people: dict[int, np.ndarray] = {}
    n_det, f, size = 0, 0, None
    t0 = time.time()
    if FLAGS.cache and os.path.isfile(FLAGS.cache):
        with np.load(FLAGS.cache) as z:
            if str(z["key"]) != f"{kind}/{FLAGS.every}/{FLAGS.max_frames}/{FLAGS.upscale}":
                raise SystemExit(f"{FLAGS.cache}: detections of other settings ({z['key']})")
            people = {int(k[4:]): z[k] for k in z.files if k.startswith("det_")}
            f, size = int(z["frames_read"]), tuple(z["size"])
        n_det = sum(len(v) for v in people.values())
    cached = bool(people) or f > 0
    while not cached:
        ok, frame = cap.read()
        if not ok or (FLAGS.max_frames and f >= FLAGS.max_frames):
            break
        size = frame.shape[:2]
        # The motion model must see every frame; the detector output is kept every n-th.
        if kind == "motion" or f % FLAGS.every == 0:
            boxes, conf = detect(frame)
            if f % FLAGS.every == 0:
                people[f // FLAGS.every] = keypoints_in_boxes(boxes, conf)
                n_det += len(boxes)
        f += 1
    if FLAGS.cache and not cached:
        save_npz(FLAGS.cache, key=np.asarray(f"{kind}/{FLAGS.every}/{FLAGS.max_frames}/{FLAGS.upscale}"),
                 frames_read=np.asarray(f), size=np.asarray(size),
                 **{f"det_{k}": v for k, v in people.items()})
    t_det = time.time() - t0
    cfg = tracking_config()
    cfg.min_track_frames = FLAGS.min_track_frames
    t1 = time.time()
    tracks = track_people(people, size, cfg, fps=fps / FLAGS.every, source=FLAGS.video,
                          video=os.path.splitext(os.path.basename(FLAGS.video))[0])
    t_track = time.time() - t1
    for t in tracks:
        first, last = t.frames[0] * FLAGS.every, t.frames[-1] * FLAGS.every
        print(f"track {t.track_id}: video frames {first}-{last}, {t.num_frames} samples, "
              f"{int(t.observed.sum())} detected, mean box height "
              f"{np.mean(t.boxes[:, 3] - t.boxes[:, 1]):.0f} px")
    if FLAGS.out:
        save_tracks(FLAGS.out, tracks)
    print(json.dumps({
        "video": os.path.basename(FLAGS.video), "detector": kind, "cv2": cv2.__version__,
        "frames_read": f, "frames_used": len(people), "every": FLAGS.every,
        "detections": n_det, "tracks": len(tracks),
        "lengths": [t.num_frames for t in tracks],
        "detected": [int(t.observed.sum()) for t in tracks],
        "detect_s": round(t_det, 2), "track_s": round(t_track, 3)}))


if __name__ == "__main__":
    app.run(main)
