"""Synthetic BODY_25 keypoints of a standing person, for tests and demonstrations (e.g.
turning person-detector boxes into keypoints until a keypoint detector is available)."""
from __future__ import annotations

import numpy as np

# BODY_25 points of a person facing the camera, in a unit box (x right, y down).
STANDING_BODY25 = np.asarray([
    (0.50, 0.08), (0.50, 0.18), (0.30, 0.20), (0.25, 0.35), (0.22, 0.50), (0.70, 0.20),
    (0.75, 0.35), (0.78, 0.50), (0.50, 0.50), (0.40, 0.50), (0.40, 0.72), (0.40, 0.93),
    (0.60, 0.50), (0.60, 0.72), (0.60, 0.93), (0.46, 0.06), (0.54, 0.06), (0.42, 0.07),
    (0.58, 0.07), (0.63, 0.98), (0.66, 0.97), (0.59, 0.95), (0.37, 0.98), (0.34, 0.97),
    (0.41, 0.95),
])


def keypoints_in_boxes(boxes: np.ndarray, confidence: np.ndarray | float = 0.8,
                       jitter_px: float = 0.0, seed: int = 0) -> np.ndarray:
    """BODY_25 keypoints of the standing template placed in each box.

    Args:
      boxes: (N, 4) ``x0, y0, x1, y1`` pixels.
      confidence: (N,) or scalar confidence given to every point.
      jitter_px: standard deviation of Gaussian noise added to x, y (pixels).
      seed: noise seed.

    Returns:
      (N, 25, 3) keypoints in pixels with confidence.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    wh = boxes[:, 2:] - boxes[:, :2]
    xy = boxes[:, None, :2] + STANDING_BODY25[None] * wh[:, None, :]
    if jitter_px > 0:
        xy = xy + np.random.default_rng(seed).normal(scale=jitter_px, size=xy.shape)
    conf = np.broadcast_to(np.asarray(confidence, dtype=np.float64).reshape(-1, 1),
                           (boxes.shape[0], STANDING_BODY25.shape[0]))
    return np.concatenate([xy, conf[..., None]], axis=-1)
