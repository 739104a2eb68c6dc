"""Per-frame 3D estimates (HMR / HMMR / VIBE outputs and the project's own .npz) and
attaching them to a ``Track``.

Every reader returns ``Estimates``: per frame an HMR crop camera ``[s, tx, ty]``, a 72-D
axis-angle pose and 10 betas, with the crop the camera refers to when the file says.
Layouts read:

  - SFV ``.h5`` (``refine_video.py`` through deepdish/PyTables): ``{i: [{'theta': (1, 85),
    'proc_param': {'scale': [sy, sx], 'start_pt': (2,), 'target_size': 224, ...}, ...}]}``
    for track positions i = 0..T-1 (theta = camera 3, pose 72, shape 10). deepdish stores an
    int-keyed dict either as ``__pair_*`` groups (older deepdish) or as one pickled object
    (newer); both are read, the pickle through ``sfv_jax.body.pickle_io``. Blosc-compressed
    arrays need the optional ``hdf5plugin``; the fields read here (theta, start_pt) are
    small enough that deepdish never compresses them.
  - flat ``.h5`` / ``.npz`` of HMR outputs: ``theta`` (T, 85), or ``cam``/``cams`` (T, 3) +
    ``pose``/``poses`` (T, 72) or (T, 24, 3, 3) rotation matrices + ``betas``/``shapes``
    (T, 10); optional ``frames`` (T,), ``crop_scale`` (T,), ``crop_start`` (T, 2),
    ``crop_size`` (). ``save_estimates_npz`` writes this layout.
  - HMMR ``hmmr_output.pkl`` (plain pickle of {'omegas': (T, 85), 'cams', 'poses' (T, 24,
    3, 3), 'shapes', ...}), through ``pickle_io.safe_load``.
  - VIBE ``vibe_output.pkl`` (``joblib.dump`` of {person id: {'pred_cam' (T, 3), 'pose'
    (T, 72), 'betas' (T, 10), 'bboxes' (T, 4) cx, cy, w, h, 'frame_ids' (T,), ...}}),
    through ``joblib_format``; crops follow VIBE's (square box of side max(w, h) * 1.1).

Files are read defensively: only the keys above are read, every array's size is checked from
its header against a limit tied to the frame count (``frame_limit``) before it is read, HDF5
links (soft, external) and datasets with external or virtual storage are refused (they would
read other files), and every failure is an ``InputError`` naming the file. Values must be
plausible: |pose| <= ``MAX_ABS_POSE`` rad, |betas| <= ``MAX_ABS_BETAS``, |cam| <= ``MAX_ABS_CAM``
(the camera scale's sign is checked per track, ``sfv_jax.track_checks``).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

import numpy as np

from sfv_jax import atomic
from sfv_jax.inputs.config import ReadingSettings
from sfv_jax.inputs.estimate_data import (_KEYS, BYTES_PER_FRAME, NPZ_LAYOUT, Estimates,
                                          _as_int, estimates_from_mapping)
from sfv_jax.inputs.hmr_h5 import read_hmr_h5, save_hmr_h5  # noqa: F401  (the .h5 reader)
from sfv_jax.inputs.track import InputError, Track

def frame_limit(cfg: ReadingSettings, video_frames: int = -1,
                last_frame: int = -1) -> int:
    """Most frames an estimates file of this video may hold: ``reading.max_frames``, or twice
    the video's frame count (from the video or the tracked frames) plus 100 when known."""
    known = max(int(video_frames), int(last_frame) + 1)
    cap = ReadingSettings.from_config(cfg).max_frames
    return min(cap, 2 * known + 100) if known > 0 else cap


# --------------------------------------------------------------------------------------
# .npz (own layout)
# --------------------------------------------------------------------------------------
def save_estimates_npz(path: str, est: Estimates) -> None:
    """Writes ``est`` in the flat layout (atomically)."""
    arrays: dict[str, Any] = dict(layout=np.asarray(NPZ_LAYOUT), cam=est.cam, pose=est.pose,
                                  betas=est.betas, crop_size=np.asarray(est.crop_size))
    if est.frames is not None:
        arrays["frames"] = est.frames
    if est.crop_scale is not None:
        arrays.update(crop_scale=est.crop_scale, crop_start=est.crop_start)
    atomic.save_npz(path, **arrays)


def read_estimates_npz(path: str, max_frames: int = 200_000) -> Estimates:
    """Reads HMR outputs from an ``.npz`` in the flat layout (no pickled objects allowed;
    only the layout's keys are read, each at most ``max_frames`` frames)."""
    z = atomic.load_npz(path, "estimates file", InputError, keys=_KEYS,
                        max_bytes=max_frames * BYTES_PER_FRAME)
    return estimates_from_mapping(z, path)


# --------------------------------------------------------------------------------------
# HMMR and VIBE pickles
# --------------------------------------------------------------------------------------
def read_hmmr_pkl(path: str, frames: np.ndarray | None = None) -> Estimates:
    """Reads HMMR's ``hmmr_output.pkl`` (a plain pickle of a dict of arrays).

    HMMR stores no frame indices (its frames are the PoseFlow track's, trimmed); pass
    ``frames`` if known, else estimates are matched to a track by position.
    """
    from sfv_jax.body import pickle_io

    return _hmmr_from_obj(pickle_io.safe_load(path), path, frames)


def _hmmr_from_obj(obj: Any, path: str, frames: np.ndarray | None = None) -> Estimates:
    if not isinstance(obj, Mapping):
        raise InputError(f"{path}: expected HMMR's dict of arrays, got {type(obj).__name__}")
    d = {k: v for k, v in obj.items() if isinstance(k, str) and not k.endswith("_delta")}
    est = estimates_from_mapping(d, path)
    if frames is not None:
        est = dataclasses.replace(est, frames=np.asarray(frames))
    return est


def read_vibe_pkl(path: str, cfg: ReadingSettings) -> list[Estimates]:
    """Reads VIBE's ``vibe_output.pkl``: one ``Estimates`` per person id, sorted by id.

    Crops follow VIBE's preprocessing: a square of side ``max(w, h) * cfg.vibe_bbox_scale``
    around the box center, resized to ``cfg.crop_size``. ``cfg``: ``ReadingSettings`` (a
    ``reading`` ConfigDict section is converted).
    """
    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    from sfv_jax.inputs import joblib_format

    return _vibe_from_obj(joblib_format.load_joblib(path), path, cfg)


def _is_vibe(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(v, Mapping) and "pred_cam" in v for v in obj.values())


def _vibe_from_obj(obj: Any, path: str, cfg: ReadingSettings) -> list[Estimates]:
    if not isinstance(obj, Mapping) or not obj:
        raise InputError(f"{path}: expected VIBE's {{person id: results}} dict, got "
                         f"{type(obj).__name__}" + (" (empty)" if isinstance(obj, Mapping) else ""))
    out = []
    for pid in sorted(obj, key=lambda k: (str(type(k)), k)):
        r = obj[pid]
        where = f"{path} person {pid}"
        if not isinstance(r, Mapping):
            raise InputError(f"{where}: expected a dict of arrays")
        need = [k for k in ("pred_cam", "pose", "betas", "frame_ids") if k not in r]
        if need:
            raise InputError(f"{where}: missing {need}")
        crop_scale = crop_start = None
        if r.get("bboxes") is not None:
            bb = np.asarray(r["bboxes"], dtype=np.float64).reshape(-1, 4)
            side = np.maximum(bb[:, 2], bb[:, 3]) * cfg.vibe_bbox_scale
            if np.any(side <= 0):
                raise InputError(f"{where}: box with zero size at row {int(np.argmax(side <= 0))}")
            crop_scale = cfg.crop_size / side
            crop_start = bb[:, :2] * crop_scale[:, None] - cfg.crop_size / 2.0
        est = Estimates(cam=np.asarray(r["pred_cam"]), pose=np.asarray(r["pose"]),
                        betas=np.asarray(r["betas"]), frames=np.asarray(r["frame_ids"]),
                        crop_scale=crop_scale, crop_start=crop_start, crop_size=cfg.crop_size,
                        source=where, track_id=_as_int(pid))
        out.append(est)
    return out


def read_estimates(path: str, cfg: ReadingSettings,
                   max_frames: int | None = None) -> list[Estimates]:
    """Reads any supported estimates file, by extension and content.

    Args:
      path: the file.
      cfg: ``ReadingSettings`` (a ``reading`` ConfigDict section is converted).
      max_frames: most frames the file may cover (``frame_limit``; default
        ``reading.max_frames``): arrays larger than that are refused (.npz, .h5) or skipped
        unread (VIBE's big unused arrays) before anything is allocated.
    Raises:
      FileNotFoundError, UnsafePickleError, InputError naming the file (every other failure).
    """
    from sfv_jax.body import pickle_io

    cfg = ReadingSettings.from_config(cfg)  # a ConfigDict section is converted here
    frames = int(cfg.max_frames if max_frames is None else max_frames)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npz", ".h5", ".hdf5", ".pkl", ".pickle", ".joblib"):
        raise InputError(f"{path}: unknown estimates file type {ext!r} (.npz, .h5, .pkl)")
    try:
        if ext == ".npz":
            out = [read_estimates_npz(path, frames)]
        elif ext in (".h5", ".hdf5"):
            out = [read_hmr_h5(path, frames)]
        else:
            from sfv_jax.inputs import joblib_format

            total = int(cfg.max_decompressed_mb * 2 ** 20)
            obj = joblib_format.load_joblib(path, max_array_bytes=frames * BYTES_PER_FRAME,
                                            max_total_bytes=total)  # plain pickles too
            out = (_vibe_from_obj(obj, path, cfg) if _is_vibe(obj)
                   else [_hmmr_from_obj(obj, path)])
    except (InputError, FileNotFoundError, pickle_io.UnsafePickleError):
        raise
    except Exception as e:  # noqa: BLE001 - any other failure is a bad file: name it
        msg = str(e)
        raise InputError(msg if msg.startswith(path) else
                         f"{path}: unreadable estimates file ({type(e).__name__}: {msg})") \
            from None
    for est in out:
        if est.num_frames > frames:
            raise InputError(f"{est.source}: {est.num_frames} frames, more than the {frames} "
                             f"this video can have (reading.max_frames)")
    return out


# --------------------------------------------------------------------------------------
# Attaching estimates to a track
# --------------------------------------------------------------------------------------
def attach_estimates(track: Track, est: Estimates) -> Track:
    """The track with per-frame pose, betas and camera (and the camera's crop) from ``est``.

    With frame indices in ``est``, every track frame must be among them; without, the counts
    must agree. If ``est`` carries no crop, the track's own crops are used (the camera must
    have been estimated in those, e.g. by running HMR on the tracker's crops).

    Raises:
      InputError naming both sources and the first frame that does not match.
    """
    if est.frames is None:
        if est.num_frames != track.num_frames:
            raise InputError(f"{est.source}: {est.num_frames} estimates, but the track "
                             f"{track.track_id} from {track.source or '?'} has {track.num_frames} "
                             f"frames ({track.frames[0]}..{track.frames[-1]})")
        rows = np.arange(track.num_frames)
    else:
        pos = {int(f): i for i, f in enumerate(est.frames)}
        missing = [int(f) for f in track.frames if int(f) not in pos]
        if missing:
            raise InputError(f"{est.source}: no estimate for frame {missing[0]} of track "
                             f"{track.track_id} from {track.source or '?'} ({len(missing)} of "
                             f"{track.num_frames} frames missing; estimates cover "
                             f"{est.frames[0]}..{est.frames[-1]})")
        rows = np.asarray([pos[int(f)] for f in track.frames])
    changes: dict[str, Any] = dict(pose=est.pose[rows], betas=est.betas[rows], cam=est.cam[rows])
    if est.crop_scale is not None:
        changes.update(crop_scale=est.crop_scale[rows], crop_start=est.crop_start[rows],
                       crop_size=est.crop_size)
    elif track.crop_scale is None:
        raise InputError(f"{est.source}: the estimates carry no crop and track "
                         f"{track.track_id} from {track.source or '?'} has none either; the "
                         f"camera cannot be placed in the image")
    return track.replace(**changes)
