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
        object.__setattr__(self, "crop_size", int(self.crop_size))

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
    if theta is not None and np.asarray(theta).shape[-1] == NUM_THETA:
        cam, pose, betas = _split_theta(np.asarray(theta).reshape(-1, NUM_THETA), source)
    else:
        cam = _pick(d, ("cam", "cams", "pred_cam"))
        pose = _pick(d, ("pose", "poses"))
        betas = _pick(d, ("betas", "shapes", "shape"))
        missing = [n for n, v in (("cam", cam), ("pose", pose), ("betas", betas)) if v is None]
        if missing:
            raise InputError(f"{source}: no 'theta' (T, 85) and no {missing} "
                             f"(found keys {sorted(map(str, d))})")
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim == 4 and pose.shape[1:] == (24, 3, 3):
            pose = _rotmats_to_axis_angle(pose)
    frames = _pick(d, ("frames", "frame_ids", "frame_indices"))
    crop_size = d.get("crop_size", 224)
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


def read_estimates_npz(path: str) -> Estimates:
    """Reads HMR outputs from an ``.npz`` in the flat layout (no pickled objects allowed)."""
    return estimates_from_mapping(atomic.load_npz(path, "estimates file", InputError), path)


# --------------------------------------------------------------------------------------
# SFV / deepdish .h5 through h5py
# --------------------------------------------------------------------------------------
_PYTABLES_ATTRS = {"CLASS", "TITLE", "VERSION", "PYTABLES_FORMAT_VERSION", "FILTERS",
                   "FLAVOR", "PSEUDOATOM", "EXTDIM"}


class _Lazy:
    """A dataset not read yet (big deepdish arrays such as 'verts' may be unreadable)."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _dd_node(node: Any, source: str) -> Any:
    import h5py

    if isinstance(node, h5py.Group):
        title = _text(node.attrs.get("TITLE", ""))
        d: dict[Any, Any] = {}
        for name, child in node.items():
            if name.startswith("__pair"):
                pair = _dd_node(child, source)
                d[pair.get("key")] = pair.get("value")
            else:
                d[name] = _dd_node(child, source)
        for name, v in node.attrs.items():
            if name in _PYTABLES_ATTRS or name.startswith("DEEPDISH_IO"):
                continue
            d[name] = _text(v) if isinstance(v, (bytes, np.bytes_)) else v
        if title.startswith(("list:", "tuple:")):
            n = int(title.split(":", 1)[1])
            items = [d.get(f"i{i}") for i in range(n)]
            return items if title.startswith("list:") else tuple(items)
        if title.startswith("nonetype:"):
            return None
        return d
    if _text(node.attrs.get("PSEUDOATOM", "")) == "object" or \
            _text(node.attrs.get("CLASS", "")) == "VLARRAY":
        from sfv_jax.body import pickle_io

        rows = node[()]
        blobs = [np.asarray(r, dtype=np.uint8).tobytes() for r in np.asarray(rows, dtype=object).reshape(-1)]
        objs = [pickle_io.safe_loads(b, source=f"{source}:{node.name}") for b in blobs]
        return objs[0] if len(objs) == 1 else objs
    return _Lazy(node)


def _materialize(v: Any, where: str) -> np.ndarray:
    if isinstance(v, _Lazy):
        try:
            return np.asarray(v.ds[()])
        except OSError as e:
            raise InputError(f"{where}: cannot read dataset ({e}); blosc-compressed deepdish "
                             f"files need `pip install hdf5plugin`") from None
    return np.asarray(v)


def read_hmr_h5(path: str) -> Estimates:
    """Reads HMR outputs from an SFV/deepdish ``.h5`` or a flat ``.h5`` (see module doc)."""
    import h5py

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        root = _dd_node(f, path)
        if isinstance(root, dict) and "data" in root and len(root) == 1:
            root = root["data"]  # deepdish's auto-unpacked top level (pickled int-keyed dict)
        if not isinstance(root, dict):
            raise InputError(f"{path}: expected a dict at the top level, got {type(root).__name__}")
        frame_keys = [k for k in root if _as_int(k) is not None]
        if frame_keys and len(frame_keys) == len(root):
            return _sfv_results(root, path)
        flat = {k: (_materialize(v, f"{path}:/{k}") if isinstance(v, _Lazy) else v)
                for k, v in root.items() if not isinstance(v, dict)}
        return estimates_from_mapping(flat, path)


def _as_int(k: Any) -> int | None:
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, str) and k.lstrip("-").isdigit():
        return int(k)
    return None


def _sfv_results(root: Mapping[Any, Any], path: str) -> Estimates:
    keys = sorted(root, key=_as_int)
    idx = [_as_int(k) for k in keys]
    if idx != list(range(len(idx))):
        raise InputError(f"{path}: SFV result positions must be 0..{len(idx) - 1}, got "
                         f"{idx[:5]}...")
    thetas, scales, starts, sizes = [], [], [], set()
    for k in keys:
        where = f"{path} position {k}"
        entry = root[k]
        if isinstance(entry, (list, tuple)):
            if not entry:
                raise InputError(f"{where}: empty result list")
            entry = entry[0]
        if not isinstance(entry, Mapping) or "theta" not in entry:
            raise InputError(f"{where}: no 'theta' in the result")
        theta = _materialize(entry["theta"], f"{where}/theta").reshape(-1)
        if theta.size != NUM_THETA:
            raise InputError(f"{where}: theta has {theta.size} numbers, expected {NUM_THETA}")
        thetas.append(theta)
        pp = entry.get("proc_param")
        if isinstance(pp, Mapping) and "scale" in pp and "start_pt" in pp:
            sc = np.asarray([_materialize(s, where) for s in pp["scale"]]
                            if isinstance(pp["scale"], (list, tuple))
                            else _materialize(pp["scale"], where), dtype=np.float64).reshape(-1)
            scales.append(float(sc.mean()))  # SFV's refine step uses the mean of both axes
            starts.append(_materialize(pp["start_pt"], f"{where}/proc_param/start_pt").reshape(2))
            sizes.add(int(np.asarray(_materialize(pp.get("target_size", 224), where))))
    cam, pose, betas = _split_theta(np.stack(thetas), path)
    have_crops = len(scales) == len(keys)
    if len(sizes) > 1:
        raise InputError(f"{path}: mixed crop sizes {sorted(sizes)}")
    return Estimates(cam=cam, pose=pose, betas=betas, frames=None,
                     crop_scale=np.asarray(scales) if have_crops else None,
                     crop_start=np.stack(starts).astype(np.float64) if have_crops else None,
                     crop_size=sizes.pop() if sizes else 224, source=path)


def save_hmr_h5(path: str, est: Estimates) -> None:
    """Writes ``est`` as a flat ``.h5`` (theta (T, 85) and crops; atomically)."""
    import h5py

    with atomic.atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f["theta"] = np.concatenate([est.cam, est.pose, est.betas], axis=1)
            if est.frames is not None:
                f["frames"] = est.frames
            if est.crop_scale is not None:
                f["crop_scale"] = est.crop_scale
                f["crop_start"] = est.crop_start
            f["crop_size"] = est.crop_size


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


def read_estimates(path: str, cfg: ml_collections.ConfigDict) -> list[Estimates]:
    """Reads any supported estimates file, by extension and content."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        return [read_estimates_npz(path)]
    if ext in (".h5", ".hdf5"):
        return [read_hmr_h5(path)]
    if ext in (".pkl", ".pickle", ".joblib"):
        from sfv_jax.inputs import joblib_format

        obj = joblib_format.load_joblib(path)  # plain pickles load the same way
        return _vibe_from_obj(obj, path, cfg) if _is_vibe(obj) else [_hmmr_from_obj(obj, path)]
    raise InputError(f"{path}: unknown estimates file type {ext!r} (.npz, .h5, .pkl)")


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
