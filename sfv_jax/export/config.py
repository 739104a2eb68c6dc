"""Config section of the export layer: ``ExportSettings`` (the schema) and ``export_config()``.

Every tunable of BVH / DeepMimic / archive writing lives here, in frozen dataclasses (the single
source of the defaults, each field documented above it); library functions take an
``ExportSettings`` (or one of its sub-sections) explicitly. ``export_config()`` is the section as a
ConfigDict for ``main`` and ``launch/``; ``ExportSettings.from_config`` the strict bridge back
(``sfv_jax.schema``).
"""
from __future__ import annotations

import dataclasses

import ml_collections

from sfv_jax import schema

# Value sets of the string options (the writers name them in their errors too).
INPUT_FRAMES = ("camera", "y_up")
GROUND_MODES = ("none", "clip", "frame")
EULER_ORDERS = ("xyz", "xzy", "yxz", "yzx", "zxy", "zyx")
HIERARCHIES = ("smpl24", "smpl22")
BVH_UNITS = {"cm": 100.0, "m": 1.0}
LOOP_MODES = ("wrap", "none")
ROOT_ANCHORS = ("hips", "pelvis")
# Scale of the humanoid URDF's lengths pybullet loads (globalScaling 0.25: root positions in m).
DEFAULT_URDF_SCALE = 0.25


def _decimals(section: str, name: str, value: int) -> None:
    schema.require_range(0 <= value <= 17, section, name, value, ">= 0 and <= 17")


@dataclasses.dataclass(frozen=True)
class BvhSettings:
    """The ``export.bvh`` sub-section."""

    # "smpl24": all 24 SMPL joints; "smpl22": SFV's hmr2bvh hierarchy (SMPL spine, 17
    # rotating joints, end sites at toes, wrists and the head top).
    hierarchy: str = "smpl24"
    # Euler order of the rotation channels, outermost first (R = R_a R_b R_c for "abc");
    # any of xyz, xzy, yxz, yzx, zxy, zyx (either case). SFV wrote "zyx". Checked by the writer.
    euler_order: str = "zyx"
    # Length unit of offsets and root positions: "cm" (x100, SFV's choice) or "m".
    units: str = "cm"
    # Decimal places written for positions and angles (degrees), 0..17.
    decimals: int = 6
    # Vertex whose rest position is the head-top end site; -1 = the body model's "head_top"
    # landmark (on SMPL's topology that is vertex 411, the one SFV used).
    head_top_vertex: int = -1
    # Vertices of the toe end sites of the 24-joint hierarchy (after SMPL's foot joints);
    # -1 = the model's "left_big_toe" / "right_big_toe" landmarks (SMPL: 3216 / 6617).
    left_toe_vertex: int = -1
    right_toe_vertex: int = -1
    # Hand end sites of the 24-joint hierarchy continue the wrist -> hand bone by this
    # fraction of its length (SMPL's hand joint sits at the knuckles).
    hand_end_fraction: float = 1.0

    def __post_init__(self) -> None:
        s = "export.bvh"
        schema.require(self.hierarchy in HIERARCHIES, s,
                       f"hierarchy must be one of {HIERARCHIES}, got {self.hierarchy!r}")
        schema.require(self.units in BVH_UNITS, s,
                       f"units must be one of {tuple(BVH_UNITS)}, got {self.units!r}")
        _decimals(s, "decimals", self.decimals)


@dataclasses.dataclass(frozen=True)
class GroundSettings:
    """The ``export.ground`` sub-section."""

    # "none": leave the root height alone; "clip": one vertical shift for the whole
    # clip so its lowest point over all frames (or its `quantile`) sits at `clearance`
    # (every frame above ground, jumps kept); "frame": shift every frame so its own lowest
    # point sits at `clearance` (feet always on the ground, vertical root motion replaced).
    mode: str = "clip"
    # Height of the lowest body point above the ground plane y=0 after lifting (metres).
    clearance: float = 0.0
    # "clip" mode: which quantile of the frames' lowest points lands on `clearance`. 0: the
    # clip's lowest point (no frame below ground). A small quantile (0.05) lets the few
    # frames whose foot dips lowest (estimation noise) sink by that noise instead of lifting
    # every other frame's feet off the floor.
    quantile: float = 0.0

    def __post_init__(self) -> None:
        schema.require(self.mode in GROUND_MODES, "export.ground",
                       f"mode must be one of {GROUND_MODES}, got {self.mode!r}")
        schema.require(0.0 <= self.quantile < 1.0, "export.ground",
                       f"quantile must be in [0, 1), got {self.quantile}")


@dataclasses.dataclass(frozen=True)
class DeepMimicSettings:
    """The ``export.deepmimic`` sub-section."""

    # "Loop" field of written motion files: "wrap" (cyclic) or "none".
    loop: str = "none"
    # With loop "wrap": the last this many frames are blended towards the first frame's pose
    # (joint rotations, root height and orientation), so the loop has no seam
    # (deepmimic.blend_loop_seam); 0 writes the frames unchanged.
    loop_blend_frames: int = 8
    # Scale of the humanoid URDF's lengths; pybullet loads humanoid.urdf with
    # globalScaling 0.25, which puts the clips' root positions in metres.
    urdf_scale: float = DEFAULT_URDF_SCALE
    # Where the humanoid root goes: "hips" = midpoint of SMPL's hip joints (the
    # humanoid's hip joints sit level with its root), "pelvis" = SMPL's pelvis joint.
    root_anchor: str = "hips"
    # Weight (about sin of an angle) of the SMPL twist reference against the
    # hip-knee-ankle / shoulder-elbow-wrist plane when orienting a hinge: the plane wins
    # once the limb bends more than ~3 degrees, the reference takes over when straight.
    hinge_twist_blend: float = 0.05
    # Clip knee/elbow angles to the URDF limits (knees [-3.14, 0], elbows [0, 3.14]).
    clip_joint_limits: bool = True
    # Decimal places written for every number of a frame, 0..17.
    decimals: int = 10

    def __post_init__(self) -> None:
        s = "export.deepmimic"
        schema.require(self.loop in LOOP_MODES, s,
                       f"loop must be one of {LOOP_MODES}, got {self.loop!r}")
        schema.require(self.root_anchor in ROOT_ANCHORS, s,
                       f"export.deepmimic.root_anchor must be 'hips' or 'pelvis', got "
                       f"{self.root_anchor!r}")
        schema.require(self.urdf_scale > 0, s, f"urdf_scale must be > 0, got {self.urdf_scale}")
        schema.require(self.loop_blend_frames >= 0, s,
                       f"loop_blend_frames must be >= 0, got {self.loop_blend_frames}")
        _decimals(s, "decimals", self.decimals)


@dataclasses.dataclass(frozen=True)
class ArchiveSettings:
    """The ``export.archive`` sub-section."""

    # Compress the .npz (np.savez_compressed) or not (np.savez).
    compress: bool = True


@dataclasses.dataclass(frozen=True)
class ExportSettings(schema.Section, section="export"):
    """The ``export`` section (each field documented above it)."""

    # Frame of the incoming pose/translation. "camera": HMR/SFV camera frame (x right,
    # y down, z away from the camera), turned Y-up by a 180 degree rotation about X
    # before writing (the body then faces +Z, towards where the camera was).
    # "y_up": already SMPL's frame (Y up, body faces +Z); written unchanged.
    input_frame: str = "camera"
    # ---- BVH ---------------------------------------------------------------------------
    bvh: BvhSettings = dataclasses.field(default_factory=BvhSettings)
    # ---- ground ------------------------------------------------------------------------
    ground: GroundSettings = dataclasses.field(default_factory=GroundSettings)
    # ---- DeepMimic ---------------------------------------------------------------------
    deepmimic: DeepMimicSettings = dataclasses.field(default_factory=DeepMimicSettings)
    # ---- archive -----------------------------------------------------------------------
    archive: ArchiveSettings = dataclasses.field(default_factory=ArchiveSettings)

    def __post_init__(self) -> None:
        schema.require(self.input_frame in INPUT_FRAMES, "export",
                       f"input_frame must be one of {INPUT_FRAMES}, got {self.input_frame!r}")


def export_config() -> ml_collections.ConfigDict:
    """The ``export`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(ExportSettings())
