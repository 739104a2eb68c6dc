"""The solve on the SMPL-sized synthetic model lowers the 2D and the acceleration error."""
import numpy as np
import pytest

from sfv_jax import body
from sfv_jax.body.synthetic import synthetic_model
from sfv_jax.geometry import cameras, crops
from sfv_jax.solver import solve, solver_config
from sfv_jax.synthetic import make_synthetic_clip


@pytest.fixture(scope="module")
def solved():
    model = synthetic_model(seed=0)
    pairs = [make_synthetic_clip(model, 45, seed=s) for s in range(2)]
    cfg = solver_config()          # the paper's objective and Adam schedule
    cfg.bucket_lengths = (64,)
    cfg.progress_every = 0
    results = solve(model, [c for c, _ in pairs], cfg, progress=False)
    return model, pairs, results


def _errors(kp2d, kp3d, truth, hips):
    e2d = np.linalg.norm(kp2d - truth.keypoints_2d, axis=-1).mean()
    rel = kp3d - kp3d[:, hips].mean(1, keepdims=True)
    rel_gt = truth.keypoints_3d - truth.keypoints_3d[:, hips].mean(1, keepdims=True)
    acc = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]  # noqa: E731
    return e2d, np.linalg.norm(acc(rel) - acc(rel_gt), axis=-1).mean()


def test_solve_lowers_2d_and_acceleration_error(solved):
    model, pairs, results = solved
    names = model.keypoint_names
    hips = [names.index("left_hip"), names.index("right_hip")]
    for (clip, truth), r in zip(pairs, results):
        init = body.forward(model, clip.pose.astype(np.float32), clip.betas.astype(np.float32))
        kp2d0 = crops.crop_norm_to_image(cameras.project_crop(init.keypoints, clip.cam),
                                         clip.crop_scale, clip.crop_start, clip.crop_size)
        e2d0, acc0 = _errors(np.asarray(kp2d0), np.asarray(init.keypoints), truth, hips)
        e2d, acc = _errors(r.keypoints_2d, r.keypoints_3d, truth, hips)
        assert not r.nonfinite
        assert r.history["total"].shape == (300,)
        assert e2d < 0.5 * e2d0, (e2d, e2d0)
        assert acc < 0.5 * acc0, (acc, acc0)
        # Every paper term is recorded and the objective went down.
        assert r.final_loss["total"] < 0.5 * r.history["total"][0]
