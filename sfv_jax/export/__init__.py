"""Outputs: BVH (24-joint SMPL / SFV's 22-joint hierarchy), DeepMimic motion files with
retargeting to the DeepMimic humanoid, and the ``.npz`` result archive."""
from sfv_jax.export.archive import (MotionResult, load_result, result_from_mapping,
                                    results_equal, save_result)
from sfv_jax.export.bvh import BvhSkeleton, bvh_skeleton, bvh_text, write_bvh
from sfv_jax.export.config import (ArchiveSettings, BvhSettings, DeepMimicSettings,
                                   ExportSettings, GroundSettings, export_config)
from sfv_jax.export.deepmimic import (DeepMimicMotion, pack_frames, read_motion,
                                      unpack_frames, write_motion)
from sfv_jax.export.humanoid import (DEEPMIMIC_HUMANOID, Humanoid, deepmimic_humanoid,
                                     forward_kinematics, frames_forward, lowest_point,
                                     parse_urdf)
from sfv_jax.export.retarget import (Retargeted, bone_direction_errors, export_deepmimic,
                                     retarget_smpl, to_motion)
from sfv_jax.export.world import ground_lift, input_to_world

__all__ = [
    "ArchiveSettings", "BvhSettings", "DeepMimicSettings", "ExportSettings", "GroundSettings",
    "BvhSkeleton", "DEEPMIMIC_HUMANOID", "DeepMimicMotion", "Humanoid", "MotionResult",
    "Retargeted", "bone_direction_errors", "bvh_skeleton", "bvh_text", "deepmimic_humanoid",
    "export_config", "export_deepmimic", "forward_kinematics", "frames_forward",
    "ground_lift", "input_to_world", "load_result", "lowest_point", "pack_frames",
    "parse_urdf", "read_motion", "result_from_mapping", "results_equal", "retarget_smpl",
    "save_result", "to_motion", "unpack_frames", "write_bvh", "write_motion",
]
