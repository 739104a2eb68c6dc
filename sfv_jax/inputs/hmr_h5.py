"""SFV / deepdish ``.h5`` and flat ``.h5`` HMR outputs (layouts in ``inputs.estimates``).

Read through h5py without trusting the file: links (soft, external) and datasets with
external or virtual storage are refused, since they would read other files; every dataset's
size is checked from its header before it is read; only the keys the layouts use are read;
pickled deepdish objects go through ``sfv_jax.body.pickle_io`` (allow-list and caps).
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from sfv_jax import atomic
from sfv_jax.inputs.estimate_data import (_KEYS, BYTES_PER_FRAME, NUM_THETA, Estimates,
                                          _as_int, _split_theta, estimates_from_mapping)
from sfv_jax.inputs.track import InputError

_MAX_H5_DEPTH = 32

# --------------------------------------------------------------------------------------
_PYTABLES_ATTRS = {"CLASS", "TITLE", "VERSION", "PYTABLES_FORMAT_VERSION", "FILTERS",
                   "FLAVOR", "PSEUDOATOM", "EXTDIM"}


class _Lazy:
    """A dataset not read yet (big deepdish arrays such as 'verts' may be unreadable)."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _check_dataset(ds: Any, source: str, max_bytes: int) -> None:
    """Refuses datasets that read other files or announce more than ``max_bytes``."""
    where = f"{source}:{ds.name}"
    if ds.external:
        raise InputError(f"{where}: dataset with external storage (in {ds.external[0][0]!r}); "
                         f"refused, an estimates file must hold its own data")
    if ds.is_virtual:
        raise InputError(f"{where}: virtual dataset (maps other files); refused")
    nbytes = int(np.prod(ds.shape or (), dtype=object) or 0) * int(ds.dtype.itemsize)
    if nbytes > max_bytes:
        raise InputError(f"{where}: dataset of shape {ds.shape} {ds.dtype} would take "
                         f"{nbytes / 2**20:.0f} MiB, more than the {max_bytes / 2**20:.0f} MiB "
                         f"allowed (reading.max_frames); refused before reading")


def _dd_node(node: Any, source: str, max_bytes: int = 1 << 30, depth: int = 0) -> Any:
    import h5py

    if depth > _MAX_H5_DEPTH:
        raise InputError(f"{source}:{node.name}: groups nested deeper than {_MAX_H5_DEPTH}")
    if isinstance(node, h5py.Group):
        title = _text(node.attrs.get("TITLE", ""))
        d: dict[Any, Any] = {}
        for name in node:
            link = node.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise InputError(f"{source}:{node.name.rstrip('/')}/{name}: HDF5 "
                                 f"{type(link).__name__} "
                                 f"refused (links may point into other files)")
            child = node[name]
            if name.startswith("__pair"):
                pair = _dd_node(child, source, max_bytes, depth + 1)
                if not isinstance(pair, dict):
                    raise InputError(f"{source}:{child.name}: deepdish pair is not a group")
                d[pair.get("key")] = pair.get("value")
            else:
                d[name] = _dd_node(child, source, max_bytes, depth + 1)
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

        _check_dataset(node, source, max_bytes)
        if node.size > 1_000_000:
            raise InputError(f"{source}:{node.name}: {node.size} pickled objects; refused")
        rows = node[()]
        blobs = [np.asarray(r, dtype=np.uint8).tobytes() for r in np.asarray(rows, dtype=object).reshape(-1)]
        objs = [pickle_io.safe_loads(b, source=f"{source}:{node.name}") for b in blobs]
        return objs[0] if len(objs) == 1 else objs
    _check_dataset(node, source, max_bytes)
    return _Lazy(node)


def _materialize(v: Any, where: str) -> np.ndarray:
    if isinstance(v, _Lazy):
        try:
            return np.asarray(v.ds[()])
        except OSError as e:
            raise InputError(f"{where}: cannot read dataset ({e}); blosc-compressed deepdish "
                             f"files need `pip install hdf5plugin`") from None
    return np.asarray(v)


def read_hmr_h5(path: str, max_frames: int = 200_000) -> Estimates:
    """Reads HMR outputs from an SFV/deepdish ``.h5`` or a flat ``.h5`` (see module doc);
    datasets larger than ``max_frames`` frames of the largest field are refused unread."""
    import h5py

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        root = _dd_node(f, path, max_frames * BYTES_PER_FRAME)
        if isinstance(root, dict) and "data" in root and len(root) == 1:
            root = root["data"]  # deepdish's auto-unpacked top level (pickled int-keyed dict)
        if not isinstance(root, dict):
            raise InputError(f"{path}: expected a dict at the top level, got {type(root).__name__}")
        frame_keys = [k for k in root if _as_int(k) is not None]
        if frame_keys and len(frame_keys) == len(root):
            return _sfv_results(root, path)
        flat = {k: (_materialize(v, f"{path}:/{k}") if isinstance(v, _Lazy) else v)
                for k, v in root.items() if not isinstance(v, dict) and k in _KEYS}
        return estimates_from_mapping(flat, path)


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


