"""The DeepMimic 3D humanoid: skeleton facts, URDF parsing, forward kinematics, lowest point.

Skeleton facts (joint names, parents, offsets, types, revolute axes and limits, collision
shapes) come from DeepMimic's ``humanoid.urdf`` as redistributed in pybullet_data (DeepMimic:
MIT licence; pybullet_data: zlib licence). They are shipped below as constants so the package
never needs the URDF at run time; ``parse_urdf`` reads the same facts from a file (the tests
check that both agree).

Units: the URDF's numbers are in "humanoid units"; pybullet loads the file with
``globalScaling=0.25``, and with that scale the root positions stored in the DeepMimic motion
clips are metres (standing root height ~0.85 m, feet on y=0). Every function here takes the
scale from ``Humanoid.scale`` (default 0.25) and returns metres.

Frame: Y up; the humanoid faces +X (its feet point +X) and its right side is +Z.

Motion frame layout (44 numbers): duration, root position (3), root quaternion (w, x, y, z),
then per non-root, non-fixed joint in URDF order a quaternion (spherical joints) or one angle
in radians about the joint's axis (revolute knees and elbows). Rotations are local to the
parent link.
"""
from __future__ import annotations

import dataclasses
import math
import os
import xml.etree.ElementTree as ET

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from sfv_jax.export.config import DEFAULT_URDF_SCALE
from sfv_jax.geometry import rotations

Vec3 = tuple[float, float, float]

@dataclasses.dataclass(frozen=True)
class Shape:
    """One collision shape of a link, in the link's frame, URDF units.

    kind: "sphere" | "capsule" | "box". ``center``: shape origin. ``axis``: unit direction of
    a capsule's segment (the cylinder's axis). ``radius``: sphere/capsule radius.
    ``half_length``: half the capsule's cylinder length. ``half_extents``: half box sizes
    along the link's axes (boxes here are never rotated).
    """
    link: int
    kind: str
    center: Vec3
    axis: Vec3 = (0.0, 1.0, 0.0)
    radius: float = 0.0
    half_length: float = 0.0
    half_extents: Vec3 = (0.0, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class Humanoid:
    """Static (hashable) description of an articulated humanoid; usable as a jit static arg.

    names/parents/kinds/offsets/axes/lower/upper are per joint (= per child link), in URDF
    order; joint 0 is the root (its offset is the origin). ``kinds``: "root", "spherical",
    "revolute" or "fixed". ``offsets``: joint origin in the parent link's frame (URDF units,
    multiply by ``scale`` for metres).
    """
    names: tuple[str, ...]
    parents: tuple[int, ...]
    kinds: tuple[str, ...]
    offsets: tuple[Vec3, ...]
    axes: tuple[Vec3, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    shapes: tuple[Shape, ...]
    scale: float = DEFAULT_URDF_SCALE

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def motion_joints(self) -> tuple[int, ...]:
        """Joints with entries in a motion frame after the root, in file order."""
        return tuple(i for i, k in enumerate(self.kinds) if k in ("spherical", "revolute"))

    @property
    def frame_size(self) -> int:
        """Numbers per motion frame: duration + root pos + root quat + joints."""
        return 1 + 3 + 4 + sum(4 if self.kinds[i] == "spherical" else 1
                               for i in self.motion_joints)

    def frame_columns(self) -> dict[str, tuple[int, int]]:
        """name -> (start, stop) column range in a motion frame ("duration", "root_pos",
        "root_rot", then one entry per motion joint)."""
        cols = {"duration": (0, 1), "root_pos": (1, 4), "root_rot": (4, 8)}
        c = 8
        for i in self.motion_joints:
            n = 4 if self.kinds[i] == "spherical" else 1
            cols[self.names[i]] = (c, c + n)
            c += n
        return cols

    def with_scale(self, scale: float) -> "Humanoid":
        return dataclasses.replace(self, scale=float(scale))


# --------------------------------------------------------------------------------------
# Constants from humanoid.urdf (pybullet_data's DeepMimic humanoid), URDF units.
# --------------------------------------------------------------------------------------
_Y = (0.0, 1.0, 0.0)
_Z = (0.0, 0.0, 1.0)
_NAMES = ("root", "chest", "neck",
          "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
          "right_wrist",
          "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow", "left_wrist")
_PARENTS = (-1, 0, 1, 0, 3, 4, 1, 6, 7, 0, 9, 10, 1, 12, 13)
_KINDS = ("root", "spherical", "spherical",
          "spherical", "revolute", "spherical", "spherical", "revolute", "fixed",
          "spherical", "revolute", "spherical", "spherical", "revolute", "fixed")
_OFFSETS: tuple[Vec3, ...] = (
    (0.0, 0.0, 0.0), (0.0, 0.944604, 0.0), (0.0, 0.895576, 0.0),
    (0.0, 0.0, 0.339548), (0.0, -1.686184, 0.0), (0.0, -1.639480, 0.0),
    (-0.096200, 0.974000, 0.732440), (0.0, -1.099152, 0.0), (0.0, -1.035788, 0.0),
    (0.0, 0.0, -0.339548), (0.0, -1.686184, 0.0), (0.0, -1.639480, 0.0),
    (-0.096200, 0.974000, -0.732440), (0.0, -1.099152, 0.0), (0.0, -1.035788, 0.0),
)
_AXES_C: tuple[Vec3, ...] = tuple(_Z if k == "revolute" else (0.0, 0.0, 0.0) for k in _KINDS)
_LOWER = tuple({"right_knee": -3.14, "left_knee": -3.14}.get(n, 0.0) for n in _NAMES)
_UPPER = tuple({"right_elbow": 3.14, "left_elbow": 3.14}.get(n, 0.0) for n in _NAMES)


def _limb_shapes(side: int) -> tuple[Shape, ...]:
    hip, knee, ankle, sh, el, wr = (side + k for k in range(6))
    return (
        Shape(hip, "capsule", (0.0, -0.84, 0.0), _Y, 0.22, 0.60),
        Shape(knee, "capsule", (0.0, -0.80, 0.0), _Y, 0.20, 0.62),
        Shape(ankle, "box", (0.18, -0.09, 0.0), half_extents=(0.354, 0.11, 0.18)),
        Shape(sh, "capsule", (0.0, -0.56, 0.0), _Y, 0.18, 0.36),
        Shape(el, "capsule", (0.0, -0.48, 0.0), _Y, 0.16, 0.27),
        Shape(wr, "sphere", (0.0, 0.0, 0.0), radius=0.16),
    )


_SHAPES = (
    Shape(0, "sphere", (0.0, 0.28, 0.0), radius=0.36),
    Shape(1, "sphere", (0.0, 0.48, 0.0), radius=0.44),
    Shape(2, "sphere", (0.0, 0.70, 0.0), radius=0.41),
) + _limb_shapes(3) + _limb_shapes(9)

DEEPMIMIC_HUMANOID = Humanoid(
    names=_NAMES, parents=_PARENTS, kinds=_KINDS, offsets=_OFFSETS, axes=_AXES_C,
    lower=_LOWER, upper=_UPPER, shapes=_SHAPES, scale=DEFAULT_URDF_SCALE)


def deepmimic_humanoid(scale: float = DEFAULT_URDF_SCALE) -> Humanoid:
    """The shipped DeepMimic humanoid at ``scale`` (0.25 = pybullet's, metres)."""
    return DEEPMIMIC_HUMANOID.with_scale(scale)


# --------------------------------------------------------------------------------------
# URDF parsing
# --------------------------------------------------------------------------------------
def _floats(text: str | None, n: int, where: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in (text or "").split())
    except ValueError:
        raise ValueError(f"{where}: expected {n} numbers, got {text!r}") from None
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{where}: expected {n} finite numbers, got {text!r}")
    return vals


def _rpy_matrix(rpy: tuple[float, ...]) -> np.ndarray:
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = (math.cos(r), math.sin(r), math.cos(p), math.sin(p),
                              math.cos(y), math.sin(y))
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx  # URDF: fixed-axis roll, pitch, yaw


def parse_urdf(path: str | os.PathLike, scale: float = DEFAULT_URDF_SCALE) -> Humanoid:
    """Reads a DeepMimic-style humanoid URDF (spherical/revolute/fixed joints, one tree).

    The link that is the child of the fixed joint named "root" (or else the first link that
    is nobody's child apart from a massless base) becomes joint 0. Joint origins must have
    zero rpy (true for DeepMimic's humanoid). Raises ValueError naming the file and the
    element on malformed input.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
        # pybullet_data's humanoid.urdf ends with a stray NUL byte; XML parsers reject it.
        robot = ET.fromstring(data.rstrip(b"\x00 \t\r\n"))
    except (ET.ParseError, OSError) as e:
        raise ValueError(f"{path}: cannot read URDF: {e}") from e
    links = {ln.get("name"): ln for ln in robot.findall("link")}
    joints = robot.findall("joint")
    by_child: dict[str, ET.Element] = {}
    for j in joints:
        child, parent = j.find("child"), j.find("parent")
        if child is None or parent is None:
            raise ValueError(f"{path}: joint {j.get('name')!r} lacks <parent> or <child>")
        by_child[child.get("link")] = j
    # Root link: child of a joint named "root", else a link that is no joint's child.
    root_joint = next((j for j in joints if j.get("name") == "root"), None)
    if root_joint is not None:
        root_link = root_joint.find("child").get("link")
    else:
        cands = [n for n in links if n not in by_child]
        if len(cands) != 1:
            raise ValueError(f"{path}: cannot find a unique root link (candidates {cands})")
        root_link = cands[0]
    names, parents, kinds, offsets, axes, lower, upper = [], [], [], [], [], [], []
    link_index: dict[str, int] = {}

    def add(link: str, joint: ET.Element | None, parent: int) -> None:
        if link not in links:
            raise ValueError(f"{path}: joint refers to unknown link {link!r}")
        link_index[link] = len(names)
        names.append(link)
        parents.append(parent)
        if joint is None:
            kinds.append("root")
            offsets.append((0.0, 0.0, 0.0))
            axes.append((0.0, 0.0, 0.0))
            lower.append(0.0)
            upper.append(0.0)
            return
        jname = joint.get("name")
        kind = joint.get("type")
        if kind not in ("spherical", "revolute", "fixed"):
            raise ValueError(f"{path}: joint {jname!r} has unsupported type {kind!r}")
        origin = joint.find("origin")
        xyz = _floats(origin.get("xyz") if origin is not None else "0 0 0", 3,
                      f"{path}: joint {jname!r} origin xyz")
        rpy = _floats(origin.get("rpy") if origin is not None else "0 0 0", 3,
                      f"{path}: joint {jname!r} origin rpy")
        if any(abs(v) > 1e-9 for v in rpy):
            raise ValueError(f"{path}: joint {jname!r} has a rotated origin {rpy}; "
                             "only zero rpy is supported")
        kinds.append(kind)
        offsets.append(xyz)
        if kind == "revolute":
            ax = joint.find("axis")
            a = np.asarray(_floats(ax.get("xyz") if ax is not None else "1 0 0", 3,
                                   f"{path}: joint {jname!r} axis"))
            if np.linalg.norm(a) < 1e-9:
                raise ValueError(f"{path}: joint {jname!r} has a zero axis")
            axes.append(tuple(float(v) for v in a / np.linalg.norm(a)))
            lim = joint.find("limit")
            lower.append(float(lim.get("lower", "-inf")) if lim is not None else -math.inf)
            upper.append(float(lim.get("upper", "inf")) if lim is not None else math.inf)
        else:
            axes.append((0.0, 0.0, 0.0))
            lower.append(0.0)
            upper.append(0.0)

    # Joints keep the file's declaration order (= DeepMimic's motion frame order); a
    # joint declared before its parent link is placed is deferred to a later pass.
    add(root_link, None, -1)
    pending = [j for j in joints if j is not root_joint]
    while pending:
        placed = [j for j in pending if j.find("parent").get("link") in link_index]
        if not placed:
            raise ValueError(f"{path}: joints {[j.get('name') for j in pending]} are not "
                             f"connected to the root link {root_link!r}")
        j = placed[0]
        pending.remove(j)
        add(j.find("child").get("link"), j, link_index[j.find("parent").get("link")])

    shapes: list[Shape] = []
    for lname, li in link_index.items():
        for col in links[lname].findall("collision"):
            where = f"{path}: link {lname!r} collision"
            origin = col.find("origin")
            center = _floats(origin.get("xyz") if origin is not None else "0 0 0", 3, where)
            rot = _rpy_matrix(_floats(origin.get("rpy") if origin is not None else "0 0 0",
                                      3, where))
            geom = col.find("geometry")
            g = geom[0] if geom is not None and len(geom) else None
            if g is None:
                raise ValueError(f"{where}: no geometry")
            if g.tag == "sphere":
                shapes.append(Shape(li, "sphere", center,
                                    radius=_floats(g.get("radius"), 1, where)[0]))
            elif g.tag == "capsule":
                # pybullet's capsule runs along its local z.
                axis = tuple(float(v) for v in rot[:, 2])
                shapes.append(Shape(li, "capsule", center, axis,
                                    radius=_floats(g.get("radius"), 1, where)[0],
                                    half_length=0.5 * _floats(g.get("length"), 1, where)[0]))
            elif g.tag == "box":
                if not np.allclose(rot, np.eye(3)):
                    raise ValueError(f"{where}: rotated boxes are not supported")
                size = _floats(g.get("size"), 3, where)
                shapes.append(Shape(li, "box", center,
                                    half_extents=tuple(0.5 * s for s in size)))
            else:
                raise ValueError(f"{where}: unsupported geometry <{g.tag}>")
    return Humanoid(names=tuple(names), parents=tuple(parents), kinds=tuple(kinds),
                    offsets=tuple(offsets), axes=tuple(axes), lower=tuple(lower),
                    upper=tuple(upper), shapes=tuple(shapes), scale=float(scale))


# --------------------------------------------------------------------------------------
# Frames <-> local rotations, forward kinematics
# --------------------------------------------------------------------------------------
def frames_to_local(humanoid: Humanoid, frames: Array) -> tuple[Array, Array]:
    """Motion frames (T, F) -> root position (T, 3) metres and local rotations (T, J, 3, 3).

    Joint 0's rotation is the root's global rotation; fixed joints get the identity.
    Quaternions are normalized first (files store them to ~6 digits).
    """
    frames = jnp.asarray(frames)
    if frames.shape[-1] != humanoid.frame_size:
        raise ValueError(f"expected {humanoid.frame_size} numbers per frame, "
                         f"got shape {frames.shape}")
    cols = humanoid.frame_columns()
    t = frames.shape[:-1]
    eye = jnp.broadcast_to(jnp.eye(3, dtype=frames.dtype), t + (3, 3))
    locs = []
    for i, name in enumerate(humanoid.names):
        kind = humanoid.kinds[i]
        if kind == "root":
            a, b = cols["root_rot"]
            locs.append(rotations.quaternion_to_matrix(frames[..., a:b]))
        elif kind == "spherical":
            a, b = cols[name]
            locs.append(rotations.quaternion_to_matrix(frames[..., a:b]))
        elif kind == "revolute":
            a, _ = cols[name]
            axis = jnp.asarray(humanoid.axes[i], frames.dtype)
            locs.append(rotations.axis_angle_to_matrix(frames[..., a, None] * axis))
        else:
            locs.append(eye)
    a, b = cols["root_pos"]
    return frames[..., a:b], jnp.stack(locs, axis=-3)


def forward_kinematics(humanoid: Humanoid, root_pos: Array,
                       local_rots: Array) -> tuple[Array, Array]:
    """Joint positions and global rotations of the humanoid.

    Args:
      root_pos: (..., 3) metres. local_rots: (..., J, 3, 3) (joint 0 = root's global).
    Returns:
      positions (..., J, 3) metres, global rotations (..., J, 3, 3).
    """
    offsets = jnp.asarray(humanoid.offsets, local_rots.dtype) * humanoid.scale
    pos: list[Array] = []
    rot: list[Array] = []
    for i, p in enumerate(humanoid.parents):
        if p < 0:
            pos.append(root_pos)
            rot.append(local_rots[..., i, :, :])
        else:
            pos.append(pos[p] + jnp.einsum("...ij,j->...i", rot[p], offsets[i]))
            rot.append(rot[p] @ local_rots[..., i, :, :])
    return jnp.stack(pos, axis=-2), jnp.stack(rot, axis=-3)


def frames_forward(humanoid: Humanoid, frames: Array) -> tuple[Array, Array]:
    """Motion frames (T, F) -> positions (T, J, 3) metres, global rotations (T, J, 3, 3)."""
    root_pos, local = frames_to_local(humanoid, frames)
    return forward_kinematics(humanoid, root_pos, local)


def shape_lowest_points(humanoid: Humanoid, positions: Array, global_rots: Array) -> Array:
    """Height (y) of the lowest point of each collision shape: (..., J, 3), (..., J, 3, 3)
    -> (..., S) metres, in the order of ``humanoid.shapes``."""
    s = humanoid.scale
    outs = []
    for sh in humanoid.shapes:
        r = global_rots[..., sh.link, :, :]
        c = positions[..., sh.link, :] + jnp.einsum(
            "...ij,j->...i", r, jnp.asarray(sh.center, r.dtype) * s)
        if sh.kind == "sphere":
            outs.append(c[..., 1] - sh.radius * s)
        elif sh.kind == "capsule":
            # Lowest of the two cap centres, minus the radius.
            ay = jnp.einsum("...j,j->...", r[..., 1, :], jnp.asarray(sh.axis, r.dtype))
            outs.append(c[..., 1] - jnp.abs(ay) * sh.half_length * s - sh.radius * s)
        else:  # box: y-extent of a rotated box is sum_k |R[1,k]| * half_k
            h = jnp.asarray(sh.half_extents, r.dtype) * s
            outs.append(c[..., 1] - jnp.sum(jnp.abs(r[..., 1, :]) * h, axis=-1))
    return jnp.stack(outs, axis=-1)


def lowest_point(humanoid: Humanoid, positions: Array, global_rots: Array) -> Array:
    """Lowest y over all collision shapes: (..., J, 3), (..., J, 3, 3) -> (...) metres."""
    return jnp.min(shape_lowest_points(humanoid, positions, global_rots), axis=-1)


frames_forward_jit = jax.jit(frames_forward, static_argnums=0)
