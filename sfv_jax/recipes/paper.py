"""The SFV paper's reconstruction (Peng, Kanazawa et al. 2018).

Run: python -m sfv_jax.main --config=configs/sfv_paper.py --workdir=DIR --config.inputs.dir=IN

The objective is exactly the paper's: keypoints 10 (confidence-weighted L1), shape 0.5,
initial pose 100 (per-frame weighted by exp(-(e / e_max)^2)), joint smoothness 25, camera
smoothness 1; Adam, learning rate 1e-3, 300 iterations; keypoints fitted with HMR's
cocoplus-19 set. Every key is documented in sfv_jax/job_config.py and the section files
it names.
"""
import ml_collections

from sfv_jax.job_config import job_config


def get_config() -> ml_collections.ConfigDict:
    c = job_config()
    c.model.keypoints = "cocoplus"
    w = c.solver.weights
    w.keypoints, w.shape, w.init_pose, w.joint_smooth, w.camera_smooth = 10.0, 0.5, 100.0, 25.0, 1.0
    w.keypoints_gmof = w.pose_smooth = w.accel_smooth = w.joint_limits = 0.0
    c.solver.weighted_init_pose = True
    c.solver.optimizer = "adam"
    c.solver.adam.learning_rate = 1e-3
    c.solver.adam.iterations = 300
    return c
