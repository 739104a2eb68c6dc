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

import ml_collections
import numpy as np

from sfv_jax import atomic, skeletons
from sfv_jax.inputs.track import InputError, Track, first_bad_row

NUM_THETA = 3 + skeletons.NUM_SMPL_JOINTS * 3 + skeletons.NUM_BETAS  # 85
NPZ_LAYOUT = "sfv_jax.estimates/1"
# The largest per-frame field read is a (24, 3, 3) float64 rotation stack.
BYTES_PER_FRAME = skeletons.NUM_SMPL_JOINTS * 9 * 8
# Implausible values (HMR poses are within a few radians, shapes within a few units): beyond
# these the estimate is refused instead of driving the solve and the exports to inf / NaN.
MAX_ABS_POSE = 100.0
MAX_ABS_BETAS = 100.0
MAX_ABS_CAM = 1e4
# Every key any reader uses; other keys of a file are never read.
_KEYS = ("theta", "thetas", "omegas", "cam", "cams", "pred_cam", "pose", "poses", "betas",
         "shapes", "shape", "frames", "frame_ids", "frame_indices", "crop_scale", "crop_start",
         "crop_size", "layout")


def frame_limit(cfg: ml_collections.ConfigDict, video_frames: int = -1,
                last_frame: int = -1) -> int:
    """Most frames an estimates file of this video may hold: ``reading.max_frames``, or twice
    the video's frame count (from the video or the tracked frames) plus 100 when known."""
    known = max(int(video_frames), int(last_frame) + 1)
    cap = int(cfg.get("max_frames", 200_000))
    return min(cap, 2 * known + 100) if known > 0 else cap


@dataclasses.dataclass(frozen=True, eq=False)
class Estimates:
    """Per-frame 3D estimates of one person.

    Attributes:
      cam: (T, 3) HMR crop camera ``[s, tx, ty]``.
      pose: (T, 72) axis-angle.
      betas: (T, 10).
      frames: (T,) video frame indices, or None when the file only gives track positions.
      crop_scale: (T,) and crop_start: (T, 2): the crop ``cam`` refers to, or None.
      crop_size: crop side in pixels.
      source: the file read.
      track_id: the person's id in the file (VIBE), or None.
    """

    cam: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    frames: np.ndarray | None = None
    crop_scale: np.ndarray | None = None
    crop_start: np.ndarray | None = None
    crop_size: int = 224
    source: str = ""
    track_id: int | None = None

    def __post_init__(self) -> None:
        src = f"{self.source}: " if self.source else ""
        T = np.asarray(self.cam).shape[0] if np.ndim(self.cam) else 0

        def check(name: str, v, shape):
            if v is None:
                return None
            a = np.asarray(v, dtype=np.float64)
            if a.shape != shape:
                raise InputError(f"{src}{name} must have shape {shape}, got {a.shape}")
            bad = first_bad_row(a) if a.ndim else None
            if bad is not None:
                raise InputError(f"{src}{name} has NaN/inf at row {bad}"
                                 + (f" (frame {int(self.frames[bad])})" if self.frames is not None else ""))
            return a

        object.__setattr__(self, "cam", check("cam", self.cam, (T, 3)))
        object.__setattr__(self, "pose", check("pose", self.pose, (T, 72)))
        object.__setattr__(self, "betas", check("betas", self.betas, (T, 10)))
        if T == 0:
            raise InputError(f"{src}no frames")
        if self.frames is not None:
            fr = np.asarray(self.frames).reshape(-1)
            if fr.shape != (T,):
                raise InputError(f"{src}{fr.shape[0]} frame indices for {T} estimates")
            fr = fr.astype(np.int64)
            if np.any(np.diff(fr) <= 0):
                raise InputError(f"{src}frame indices are not strictly increasing")
            object.__setattr__(self, "frames", fr)
        object.__setattr__(self, "crop_scale", check("crop_scale", self.crop_scale, (T,)))
        object.__setattr__(self, "crop_start", check("crop_start", self.crop_start, (T, 2)))
        if (self.crop_scale is None) != (self.crop_start is None):
            raise InputError(f"{src}crop_scale and crop_start come together")
        self._check_plausible(src)
        object.__setattr__(self, "crop_size", int(self.crop_size))

    def _check_plausible(self, src: str) -> None:
        def first(mask: np.ndarray) -> str:
            row = int(np.argmax(mask.reshape(mask.shape[0], -1).any(axis=1)))
            return (f"frame {int(self.frames[row])}" if self.frames is not None
                    else f"position {row}")

        for name, arr, lim in (("pose", self.pose, MAX_ABS_POSE),
                               ("betas", self.betas, MAX_ABS_BETAS),
                               ("cam", self.cam, MAX_ABS_CAM)):
            bad = np.abs(arr) > lim
            if np.any(bad):
                raise InputError(f"{src}{name} value {arr[bad][0]:g} at {first(bad)} is "
                                 f"implausible (|{name}| <= {lim:g} expected)")
        if self.crop_scale is not None and np.any(self.crop_scale <= 0):
            bad = self.crop_scale <= 0
            raise InputError(f"{src}crop_scale must be > 0, got {self.crop_scale[bad][0]:g} at "
                             f"{first(bad)}")

    @property
    def num_frames(self) -> int:
        return int(self.cam.shape[0])


def _split_theta(theta: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[1] != NUM_THETA:
        raise InputError(f"{where}: theta must be (T, {NUM_THETA}) (camera 3, pose 72, shape 10), "
                         f"got {theta.shape}")
    return theta[:, :3], theta[:, 3:75], theta[:, 75:]


def _rotmats_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation  # edge-only conversion of file data

    rot = np.asarray(rot, dtype=np.float64)
    return Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(rot.shape[0], -1)


def _pick(d: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return None


def estimates_from_mapping(d: Mapping[str, Any], source: str) -> Estimates:
    """The flat layout (see module doc) from a mapping of arrays."""
    theta = _pick(d, ("theta", "thetas", "omegas"))
    if theta is not None and np.asarray(theta).shape[-1:] == (NUM_THETA,):
        cam, pose, betas = _split_theta(np.asarray(theta).reshape(-1, NUM_THETA), source)
    else:
        cam = _pick(d, ("cam", "cams", "pred_cam"))
        pose = _pick(d, ("pose", "poses"))
        betas = _pick(d, ("betas", "shapes", "shape"))
        missing = [n for n, v in (("cam", cam), ("pose", pose), ("betas", betas)) if v is None]
        if missing and theta is not None:
            raise InputError(f"{source}: 'theta' has shape {np.shape(theta)}, expected (T, "
                             f"{NUM_THETA}) (camera 3, pose 72, shape 10)")
        if missing:
            raise InputError(f"{source}: no 'theta' (T, 85) and no {missing} "
                             f"(found keys {sorted(map(str, d))})")
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim == 4 and pose.shape[1:] == (24, 3, 3):
            pose = _rotmats_to_axis_angle(pose)
    frames = _pick(d, ("frames", "frame_ids", "frame_indices"))
    crop_size = np.asarray(d.get("crop_size", 224))
    if crop_size.size != 1 or not np.isfinite(crop_size.astype(np.float64)).all() or \
            not 0 < float(crop_size.reshape(())) <= 1e5:
        raise InputError(f"{source}: crop_size must be one positive number, got {crop_size!r}")
    return Estimates(cam=np.asarray(cam), pose=np.asarray(pose), betas=np.asarray(betas),
                     frames=None if frames is None else np.asarray(frames),
                     crop_scale=_pick(d, ("crop_scale",)), crop_start=_pick(d, ("crop_start",)),
                     crop_size=int(np.asarray(crop_size)), source=source)


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


def _as_int(k: Any) -> int | None:
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, str) and k.lstrip("-").isdigit():
        return int(k)
    return None


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


def read_vibe_pkl(path: str, cfg: ml_collections.ConfigDict) -> list[Estimates]:
    """Reads VIBE's ``vibe_output.pkl``: one ``Estimates`` per person id, sorted by id.

    Crops follow VIBE's preprocessing: a square of side ``max(w, h) * cfg.vibe_bbox_scale``
    around the box center, resized to ``cfg.crop_size``.
    """
    from sfv_jax.inputs import joblib_format

    return _vibe_from_obj(joblib_format.load_joblib(path), path, cfg)


def _is_vibe(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(v, Mapping) and "pred_cam" in v for v in obj.values())


def _vibe_from_obj(obj: Any, path: str, cfg: ml_collections.ConfigDict) -> list[Estimates]:
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


def read_estimates(path: str, cfg: ml_collections.ConfigDict,
                   max_frames: int | None = None) -> list[Estimates]:
    """Reads any supported estimates file, by extension and content.

    Args:
      path: the file.
      cfg: the ``reading`` section.
      max_frames: most frames the file may cover (``frame_limit``; default
        ``reading.max_frames``): arrays larger than that are refused (.npz, .h5) or skipped
        unread (VIBE's big unused arrays) before anything is allocated.
    Raises:
      FileNotFoundError, UnsafePickleError, InputError naming the file (every other failure).
    """
    from sfv_jax.body import pickle_io

    frames = int(cfg.get("max_frames", 200_000) if max_frames is None else max_frames)
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

            total = int(float(cfg.get("max_decompressed_mb", 4096)) * 2 ** 20)
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


# The HDF5 readers live in their own module and use this one's types.
from sfv_jax.inputs.hmr_h5 import read_hmr_h5, save_hmr_h5  # noqa: E402,F401
