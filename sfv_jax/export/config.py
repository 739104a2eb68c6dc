"""Config section of the export layer: ``export_config()``.

Every tunable of BVH / DeepMimic / archive writing lives here; library functions take
this ConfigDict (or one of its sub-sections) explicitly.
"""
from __future__ import annotations

import ml_collections


def export_config() -> ml_collections.ConfigDict:
    """Defaults of the export section (``config.export``)."""
    c = ml_collections.ConfigDict()

    # Frame of the incoming pose/translation. "camera": HMR/SFV camera frame (x right,
    # y down, z away from the camera), turned Y-up by a 180 degree rotation about X
    # before writing (the body then faces +Z, towards where the camera was).
    # "y_up": already SMPL's frame (Y up, body faces +Z); written unchanged.
    c.input_frame = "camera"

    # ---- BVH -------------------------------------------------------------------------
    c.bvh = ml_collections.ConfigDict()
    # "smpl24": all 24 SMPL joints; "smpl22": SFV's hmr2bvh hierarchy (SMPL spine, 17
    # rotating joints, end sites at toes, wrists and the head top).
    c.bvh.hierarchy = "smpl24"
    # Euler order of the rotation channels, outermost first (R = R_a R_b R_c for "abc");
    # any of xyz, xzy, yxz, yzx, zxy, zyx. SFV wrote "zyx".
    c.bvh.euler_order = "zyx"
    # Length unit of offsets and root positions: "cm" (x100, SFV's choice) or "m".
    c.bvh.units = "cm"
    # Decimal places written for positions and angles (degrees).
    c.bvh.decimals = 6
    # Vertex whose rest position is the head-top end site; -1 = the body model's "head_top"
    # landmark (on SMPL's topology that is vertex 411, the one SFV used).
    c.bvh.head_top_vertex = -1
    # Vertices of the toe end sites of the 24-joint hierarchy (after SMPL's foot joints);
    # -1 = the model's "left_big_toe" / "right_big_toe" landmarks (SMPL: 3216 / 6617).
    c.bvh.left_toe_vertex = -1
    c.bvh.right_toe_vertex = -1
    # Hand end sites of the 24-joint hierarchy continue the wrist -> hand bone by this
    # fraction of its length (SMPL's hand joint sits at the knuckles).
    c.bvh.hand_end_fraction = 1.0

    # ---- ground ----------------------------------------------------------------------
    c.ground = ml_collections.ConfigDict()
    # "none": leave the root height alone; "clip": one vertical shift for the whole
    # clip so its lowest point over all frames sits at `clearance` (every frame above
    # ground, jumps kept); "frame": shift every frame so its own lowest point sits at
    # `clearance` (feet always on the ground, vertical root motion replaced).
    c.ground.mode = "clip"
    # Height of the lowest body point above the ground plane y=0 after lifting (metres).
    c.ground.clearance = 0.0

    # ---- DeepMimic -------------------------------------------------------------------
    c.deepmimic = ml_collections.ConfigDict()
    # "Loop" field of written motion files: "wrap" (cyclic) or "none".
    c.deepmimic.loop = "none"
    # With loop "wrap": the last this many frames are blended towards the first frame's pose
    # (joint rotations, root height and orientation), so the loop has no seam
    # (deepmimic.blend_loop_seam); 0 writes the frames unchanged.
    c.deepmimic.loop_blend_frames = 8
    # Scale of the humanoid URDF's lengths; pybullet loads humanoid.urdf with
    # globalScaling 0.25, which puts the clips' root positions in metres.
    c.deepmimic.urdf_scale = 0.25
    # Where the humanoid root goes: "hips" = midpoint of SMPL's hip joints (the
    # humanoid's hip joints sit level with its root), "pelvis" = SMPL's pelvis joint.
    c.deepmimic.root_anchor = "hips"
    # Weight (about sin of an angle) of the SMPL twist reference against the
    # hip-knee-ankle / shoulder-elbow-wrist plane when orienting a hinge: the plane wins
    # once the limb bends more than ~3 degrees, the reference takes over when straight.
    c.deepmimic.hinge_twist_blend = 0.05
    # Clip knee/elbow angles to the URDF limits (knees [-3.14, 0], elbows [0, 3.14]).
    c.deepmimic.clip_joint_limits = True
    # Decimal places written for every number of a frame.
    c.deepmimic.decimals = 10

    # ---- archive ---------------------------------------------------------------------
    c.archive = ml_collections.ConfigDict()
    # Compress the .npz (np.savez_compressed) or not (np.savez).
    c.archive.compress = True
    return c
