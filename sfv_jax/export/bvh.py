"""BVH export of SMPL motion: the full 24-joint SMPL hierarchy or SFV's 22-joint one.

Hierarchies:
  - "smpl24": every SMPL joint (names from ``skeletons.SMPL_JOINT_NAMES``); the five leaves
    end in end sites: feet at the big-toe surface points, head at the head top, hands one
    more wrist->hand bone length out.
  - "smpl22": the SMPL-spine hierarchy of SFV's hmr2bvh: 17 rotating joints (pelvis, hips,
    knees, ankles, spine1-3, neck, collars, shoulders, elbows) and 5 end sites (toes =
    SMPL's foot joints, wrists = SMPL's wrist joints, head top = a surface vertex). SMPL's
    head, foot, wrist and hand rotations are not represented.

Conventions of the written file:
  - Offsets come from the clip's shape: rest joints (and end-site vertices) of the body
    model for ``betas``. Units "cm" (x100, as SFV) or "m".
  - ROOT OFFSET is zero and the root's position channels hold the pelvis's full world
    position, so parsers that add or ignore the root offset agree.
  - Rotation channels are Euler angles in degrees, listed outermost first: channels
    "Zrotation Yrotation Xrotation" mean ``R_local = R_z @ R_y @ R_x`` (the BVH
    convention), for any of the six orders.
  - World frame: Y up (see ``world.py``); with ``input_frame="camera"`` pose and
    translation are turned from the camera frame to it.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from sfv_jax import atomic, body, chunking, skeletons
from sfv_jax.body import chunked
from sfv_jax.export import world
from sfv_jax.export.config import BVH_UNITS as _UNITS
from sfv_jax.export.config import EULER_ORDERS, HIERARCHIES, BvhSettings, ExportSettings
from sfv_jax.geometry import rotations


@dataclasses.dataclass(frozen=True)
class BvhSkeleton:
    """A BVH hierarchy over SMPL joints (static).

    names/parents/smpl_index: per rotating BVH joint (parents index this tuple, -1 = root);
    each joint sits on, and takes its local rotation from, SMPL joint ``smpl_index``.
    end_sites: (BVH joint, target kind, reference) per end site: "joint" + SMPL joint,
    "landmark" + index into ``END_LANDMARKS``, "extend" + the SMPL joint whose bone to the
    site's joint is continued.
    """
    names: tuple[str, ...]
    parents: tuple[int, ...]
    smpl_index: tuple[int, ...]
    end_sites: tuple[tuple[int, str, int], ...]

    def dfs_order(self) -> tuple[int, ...]:
        """Joint indices in the order they are written (depth first, children in index
        order); the MOTION channels follow this order."""
        children: dict[int, list[int]] = {}
        for i, p in enumerate(self.parents):
            children.setdefault(p, []).append(i)
        order: list[int] = []

        def visit(i: int) -> None:
            order.append(i)
            for c in children.get(i, []):
                visit(c)

        for r in children.get(-1, []):
            visit(r)
        return tuple(order)


_SMPL22 = (
    # (BVH name, SMPL joint, BVH parent name)  - SFV's hmr2bvh naming.
    ("Hips", 0, None),
    ("LeftHip", 1, "Hips"), ("LeftKnee", 4, "LeftHip"), ("LeftFoot", 7, "LeftKnee"),
    ("RightHip", 2, "Hips"), ("RightKnee", 5, "RightHip"), ("RightFoot", 8, "RightKnee"),
    ("Waist", 3, "Hips"), ("Spine", 6, "Waist"), ("Chest", 9, "Spine"), ("Neck", 12, "Chest"),
    ("LeftInnerShoulder", 13, "Chest"), ("LeftShoulder", 16, "LeftInnerShoulder"),
    ("LeftElbow", 18, "LeftShoulder"),
    ("RightInnerShoulder", 14, "Chest"), ("RightShoulder", 17, "RightInnerShoulder"),
    ("RightElbow", 19, "RightShoulder"),
)


def bvh_skeleton(hierarchy: str) -> BvhSkeleton:
    """The named hierarchy. End-site targets: "joint" (an SMPL joint), "landmark" (a surface
    point named in ``END_LANDMARKS``, resolved per model) or "extend" (the parent bone
    continued, for the hands)."""
    if hierarchy == "smpl24":
        return BvhSkeleton(
            names=skeletons.SMPL_JOINT_NAMES, parents=skeletons.SMPL_PARENTS,
            smpl_index=tuple(range(skeletons.NUM_SMPL_JOINTS)),
            end_sites=((10, "landmark", 0), (11, "landmark", 1), (15, "landmark", 2),
                       (22, "extend", 20), (23, "extend", 21)))
    if hierarchy == "smpl22":
        names = tuple(n for n, _, _ in _SMPL22)
        parents = tuple(-1 if p is None else names.index(p) for _, _, p in _SMPL22)
        idx = tuple(j for _, j, _ in _SMPL22)
        ends = ((names.index("LeftFoot"), "joint", 10), (names.index("RightFoot"), "joint", 11),
                (names.index("Neck"), "landmark", 2),
                (names.index("LeftElbow"), "joint", 20),
                (names.index("RightElbow"), "joint", 21))
        return BvhSkeleton(names, parents, idx, ends)
    raise ValueError(f"BVH hierarchy must be one of {HIERARCHIES}, got {hierarchy!r}")


# Landmark end sites: (model landmark name, config key, id on SMPL's own topology).
END_LANDMARKS = (("left_big_toe", "left_toe_vertex", 3216),
                 ("right_big_toe", "right_toe_vertex", 6617),
                 ("head_top", "head_top_vertex", 411))


def landmark_vertices(model: Any, settings: BvhSettings) -> tuple[int, ...]:
    """Vertex ids of ``END_LANDMARKS`` for ``model``: the settings' id when >= 0, else the
    model's landmark of that name, else SMPL's id when the model has SMPL's 6890 vertices."""
    marks = dict(getattr(model, "landmarks", ()) or ())
    nv = int(np.shape(model.v_template)[0])
    out = []
    for name, key, smpl_id in END_LANDMARKS:
        given = int(getattr(settings, key))
        v = given if given >= 0 else int(marks.get(name, smpl_id if nv == 6890 else -1))
        if not 0 <= v < nv:
            raise ValueError(f"no vertex for the {name} end site (export.bvh.{key}={given}, "
                             f"model has {nv} vertices and landmarks {sorted(marks)})")
        out.append(v)
    return tuple(out)


@functools.partial(jax.jit, static_argnames=("sel", "order"))
def _motion_channels(pose: Array, transl: Array, lift: Array, world_rot: Array,
                     rest_pelvis: Array, sel: tuple[int, ...], order: str) -> Array:
    """(C, 3 + 3 J) BVH channels of C frames: the world pelvis position (metres) and the
    intrinsic Euler angles (radians, ``order``) of the joints ``sel`` in the file's order,
    the root's turned into the world."""
    t = pose.shape[0]
    local = rotations.axis_angle_to_matrix(pose.reshape(t, 24, 3))
    local = local.at[:, 0].set(world_rot @ local[:, 0])
    root = (rest_pelvis + transl) @ world_rot.T
    root = root.at[:, 1].add(lift)
    eul = rotations.matrix_to_euler(local[:, jnp.asarray(sel)], order)
    return jnp.concatenate([root, eul.reshape(t, -1)], axis=1)


def _check_inputs(pose: Any, betas: Any, transl: Any, fps: float) -> tuple[np.ndarray, ...]:
    pose = np.asarray(pose, np.float64)
    if pose.ndim != 2 or pose.shape[1] != 72 or pose.shape[0] == 0:
        raise ValueError(f"pose must be (T, 72) axis-angle, got {pose.shape}")
    t = pose.shape[0]
    betas = np.asarray(betas, np.float64)
    if betas.ndim == 2:
        if betas.shape[0] != t:
            raise ValueError(f"betas (T, B) must have T={t} rows, got {betas.shape}")
        betas = betas.mean(0)  # one skeleton per clip: the clip's mean shape
    if betas.ndim != 1:
        raise ValueError(f"betas must be (B,) or (T, B), got {betas.shape}")
    transl = np.zeros((t, 3)) if transl is None else np.asarray(transl, np.float64)
    if transl.shape != (t, 3):
        raise ValueError(f"transl must be (T, 3) = ({t}, 3), got {transl.shape}")
    for name, a in (("pose", pose), ("betas", betas), ("transl", transl)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds non-finite values")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    return pose, betas, transl


def rest_points(model: Any, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest joints (24, 3) and rest vertices (V, 3) of ``model`` for ``betas`` (B,)."""
    return chunked.rest_joints_np(model, betas), chunked.rest_vertices_np(model, betas)


def lowest_mesh_points(model: Any, pose: np.ndarray, betas: np.ndarray, transl: np.ndarray,
                       world_rot: np.ndarray, chunk: int = 128) -> np.ndarray:
    """(T,) lowest world-frame y of the posed mesh per frame (metres), in chunks of frames."""
    up = np.asarray(world_rot[1], np.float32)
    b = np.asarray(np.reshape(betas, (-1,)), np.float32)
    low = chunking.apply_chunked(lambda p, tr: _lowest_chunk(model, p, b, tr, up),
                                 np.asarray(pose, np.float32), np.asarray(transl, np.float32),
                                 max_chunk=chunk)
    return np.asarray(low, np.float64)


@jax.jit
def _lowest_chunk(model: Any, pose: Array, betas: Array, transl: Array, up: Array) -> Array:
    """(C,) lowest height along ``up`` of the posed mesh of each of C frames."""
    o = body.forward(model, pose, jnp.broadcast_to(betas, (pose.shape[0], betas.shape[0])),
                     transl)
    return jnp.min(jnp.einsum("tvj,j->tv", o.vertices, up), axis=1)


def bvh_text(pose: Any, betas: Any, transl: Any, model: Any, fps: float,
             settings: ExportSettings) -> str:
    """The BVH file text of a clip.

    Args:
      pose: (T, 72) SMPL axis-angle (global orientation first), in ``settings.input_frame``.
      betas: (B,) or (T, B) shape; (T, B) is averaged (a BVH has one skeleton).
      transl: (T, 3) metres, SMPL's translation in ``settings.input_frame`` (the pelvis is at
        rest pelvis + transl), or None for zeros.
      model: body model (``sfv_jax.body``) giving rest joints and vertices for betas.
      fps: frames per second of the source video.
      settings: the ``export`` section (uses input_frame, bvh.*, ground.*).
    """
    pose, betas, transl = _check_inputs(pose, betas, transl, fps)
    bc = settings.bvh
    order = str(bc.euler_order).lower()
    if order not in EULER_ORDERS:
        raise ValueError(f"export.bvh.euler_order must be one of {EULER_ORDERS}, got {order!r}")
    unit = _UNITS[bc.units]
    skel = bvh_skeleton(bc.hierarchy)
    marks = landmark_vertices(model, bc)
    world_rot = world.input_to_world(settings.input_frame)

    joints, verts = rest_points(model, betas)

    lift = np.zeros(pose.shape[0])
    ground = settings.ground
    if ground.mode != "none":
        low = lowest_mesh_points(model, pose, betas, transl, world_rot)
        lift = np.asarray(world.ground_lift(low, ground.mode, ground.clearance,
                                             ground.quantile))
    dfs = skel.dfs_order()
    sel = tuple(int(skel.smpl_index[i]) for i in dfs)
    rot32, pelvis32 = np.float32(world_rot), np.float32(joints[0])
    # Chunked over frames (a few compiled shapes for every clip length); Euler angles are
    # intrinsic, as BVH's channels.
    ch = chunking.apply_chunked(
        lambda p, tr, lf: _motion_channels(p, tr, lf, rot32, pelvis32, sel, order.upper()),
        pose.astype(np.float32), transl.astype(np.float32), lift.astype(np.float32))
    ch = np.asarray(ch, np.float64)
    motion = np.concatenate([ch[:, :3] * unit, np.degrees(ch[:, 3:])], axis=1)

    # ---- header -------------------------------------------------------------------
    d = int(bc.decimals)
    f3 = lambda v: " ".join(f"{x + 0.0:.{d}f}" for x in v)  # noqa: E731
    chans = " ".join(f"{a.upper()}rotation" for a in order)
    children: dict[int, list[int]] = {}
    for i, p in enumerate(skel.parents):
        children.setdefault(p, []).append(i)
    ends: dict[int, list[int]] = {}
    for k, (j, _, _) in enumerate(skel.end_sites):
        ends.setdefault(j, []).append(k)
    lines = ["HIERARCHY"]

    def emit(i: int, depth: int) -> None:
        ind = "\t" * depth
        p = skel.parents[i]
        if p < 0:
            lines.append(f"ROOT {skel.names[i]}")
            off = np.zeros(3)
            ch = f"CHANNELS 6 Xposition Yposition Zposition {chans}"
        else:
            lines.append(f"{ind}JOINT {skel.names[i]}")
            off = (joints[skel.smpl_index[i]] - joints[skel.smpl_index[p]]) * unit
            ch = f"CHANNELS 3 {chans}"
        lines.extend([f"{ind}{{", f"{ind}\tOFFSET {f3(off)}", f"{ind}\t{ch}"])
        for c in children.get(i, []):
            emit(c, depth + 1)
        for k in ends.get(i, []):
            _, kind, ref = skel.end_sites[k]
            here = joints[skel.smpl_index[i]]
            if kind == "joint":
                target = joints[ref]
            elif kind == "landmark":
                target = verts[marks[ref]]
            else:  # "extend": continue the bone from SMPL joint `ref` to this joint
                target = here + float(bc.hand_end_fraction) * (here - joints[ref])
            eoff = (target - here) * unit
            lines.extend([f"{ind}\tEnd Site", f"{ind}\t{{", f"{ind}\t\tOFFSET {f3(eoff)}",
                          f"{ind}\t}}"])
        lines.append(f"{ind}}}")

    for r in children.get(-1, []):
        emit(r, 0)
    lines += ["MOTION", f"Frames: {motion.shape[0]}", f"Frame Time: {1.0 / float(fps):.8f}"]
    fmt = f"%.{d}f"
    body_txt = "\n".join(" ".join(fmt % (v + 0.0) for v in row) for row in motion)
    return "\n".join(lines) + "\n" + body_txt + "\n"


def write_bvh(path: str | os.PathLike, pose: Any, betas: Any, transl: Any, model: Any,
              fps: float, settings: ExportSettings) -> None:
    """Writes ``bvh_text(...)`` to ``path`` atomically; errors name the file."""
    try:
        text = bvh_text(pose, betas, transl, model, fps, settings)
    except ValueError as e:
        raise ValueError(f"{os.fspath(path)}: {e}") from e
    atomic.write_text(path, text)
