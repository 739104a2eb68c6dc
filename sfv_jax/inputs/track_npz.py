"""The project's own ``.npz`` layout for tracks (writer and reader).

Layout ``sfv_jax.tracks/1``; one file holds N tracks of one video:

  ``layout``                () str   "sfv_jax.tracks/1"
  ``num_tracks``            () int   N
  ``<i>/frames``            (T,) int64 video frame indices
  ``<i>/keypoints``         (T, 25, 3) BODY_25 x, y (full-image pixels), confidence
  ``<i>/boxes``             (T, 4) x0, y0, x1, y1 pixels
  ``<i>/observed``          (T,) bool
  ``<i>/image_size``        (2,) H, W
  ``<i>/fps``               () float
  ``<i>/crop_size``         () int
  ``<i>/track_id``          () int
  ``<i>/video``, ``<i>/source``  () str
  optional ``<i>/pose`` (T, 72), ``<i>/betas`` (T, 10), ``<i>/cam`` (T, 3),
  ``<i>/crop_scale`` (T,), ``<i>/crop_start`` (T, 2).

No pickled objects: the reader uses ``allow_pickle=False``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sfv_jax import atomic
from sfv_jax.inputs.track import InputError, Track

LAYOUT = "sfv_jax.tracks/1"
_OPTIONAL = ("pose", "betas", "cam", "crop_scale", "crop_start")


def save_tracks(path: str, tracks: Sequence[Track]) -> None:
    """Writes ``tracks`` to ``path`` (atomically)."""
    arrays: dict[str, np.ndarray] = {"layout": np.asarray(LAYOUT),
                                     "num_tracks": np.asarray(len(tracks))}
    for i, t in enumerate(tracks):
        p = f"{i}/"
        arrays.update({p + "frames": t.frames, p + "keypoints": t.keypoints, p + "boxes": t.boxes,
                       p + "observed": t.observed, p + "image_size": np.asarray(t.image_size),
                       p + "fps": np.asarray(t.fps), p + "crop_size": np.asarray(t.crop_size),
                       p + "track_id": np.asarray(t.track_id), p + "video": np.asarray(t.video),
                       p + "source": np.asarray(t.source)})
        for k in _OPTIONAL:
            v = getattr(t, k)
            if v is not None:
                arrays[p + k] = v
    atomic.save_npz(path, **arrays)


def load_tracks(path: str) -> list[Track]:
    """Reads tracks written by ``save_tracks``; errors name the file and the field."""
    z = atomic.load_npz(path, "tracks file", InputError)
    files = set(z)
    if "layout" not in files or str(z["layout"]) != LAYOUT:
        raise InputError(f"{path}: not an {LAYOUT} file (layout "
                         f"{str(z['layout']) if 'layout' in files else 'missing'})")
    n = int(z["num_tracks"])
    out = []
    for i in range(n):
        p = f"{i}/"
        need = ("frames", "keypoints", "boxes", "observed", "image_size", "fps", "crop_size",
                "track_id", "video", "source")
        missing = [k for k in need if p + k not in files]
        if missing:
            raise InputError(f"{path}: track {i} lacks {missing}")
        opt = {k: z[p + k] for k in _OPTIONAL if p + k in files}
        try:
            out.append(Track(frames=z[p + "frames"], keypoints=z[p + "keypoints"],
                             boxes=z[p + "boxes"], observed=z[p + "observed"],
                             image_size=tuple(z[p + "image_size"]), fps=float(z[p + "fps"]),
                             crop_size=int(z[p + "crop_size"]), track_id=int(z[p + "track_id"]),
                             video=str(z[p + "video"]), source=path, **opt))
        except ValueError as e:
            raise InputError(f"{path}: track {i}: {e}") from None
    return out
