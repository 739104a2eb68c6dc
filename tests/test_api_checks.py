"""Checks at the API edges: wrong-shaped loss inputs fail clearly (also under jit); recipes are
named, never loaded from arbitrary files."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sfv_jax import losses, recipes
from sfv_jax.shapes import check_shapes

T, K = 6, 5


def _kp_inputs():
    rng = np.random.default_rng(0)
    return (jnp.asarray(rng.normal(size=(T, K, 2))), jnp.asarray(rng.normal(size=(T, K, 2))),
            jnp.ones((T, K)), jnp.ones((T,)))


def test_keypoint_terms_name_the_wrong_argument():
    pred, target, conf, mask = _kp_inputs()
    assert np.isfinite(float(losses.keypoint_l1(pred, target, conf, mask)))
    with pytest.raises(AssertionError, match=r"keypoint_l1: pred should be \(T K 2\), got "
                                             r"\(6, 5, 3\)"):
        losses.keypoint_l1(jnp.zeros((T, K, 3)), target, conf, mask)
    with pytest.raises(AssertionError, match=r"keypoint_l1: conf should be \(T K\)"):
        losses.keypoint_l1(pred, target, jnp.ones((T, K + 1)), mask)
    with pytest.raises(AssertionError, match=r"keypoint_gmof: frame_mask should be \(T\)"):
        losses.keypoint_gmof(pred, target, conf, jnp.ones((T + 1,)), 0.1)


def test_checks_are_static_under_jit():
    pred, target, conf, mask = _kp_inputs()
    f = jax.jit(losses.keypoint_l1)
    assert np.allclose(f(pred, target, conf, mask), losses.keypoint_l1(pred, target, conf, mask))
    with pytest.raises(AssertionError, match="keypoint_l1: target"):
        f(pred, target[:, :-1], conf, mask)


@pytest.mark.parametrize("call, message", [
    (lambda: losses.joint_smoothness(jnp.zeros((T, K, 2)), jnp.ones(T), (0, 1)),
     "joint_smoothness: points"),
    (lambda: losses.camera_smoothness(jnp.zeros((T, 3)), jnp.ones(T), jnp.zeros((T, 3)), 224.0,
                                      jnp.ones(T)), "camera_smoothness: crop_start"),
    (lambda: losses.init_pose(jnp.zeros((T, 24, 3, 3)), jnp.zeros((T, 23, 3, 3)), jnp.ones(T)),
     "init_pose: rot_init"),
    (lambda: losses.joint_limits(jnp.zeros((T, 69)), jnp.ones(T)), "joint_limits: pose"),
    (lambda: losses.plane_heights(jnp.zeros((T, K, 3)), jnp.zeros(4), 0.0),
     "plane_heights: normal"),
    (lambda: losses.contact_static(jnp.zeros((T, 4, 3)), jnp.zeros((T, 3)), jnp.ones(T)),
     "contact_static: contacts"),
    (lambda: losses.masked_mean(jnp.zeros((T + 1, 3)), jnp.ones(T)), "masked_mean: frame_mask"),
    (lambda: losses.nonzero_weighted_mean(jnp.zeros((T, 3)), jnp.ones((T, 2))), "broadcast"),
])
def test_other_terms_check_their_inputs(call, message):
    with pytest.raises(AssertionError, match=message):
        call()


def test_check_shapes_spec():
    x = np.zeros((2, 4, 3))
    check_shapes("f", a=(x, "... 3"), b=(np.zeros(3), "3"), c=(1.0, ""), d=(x, "N ..."))
    check_shapes("f", a=(x, "N K 3"), b=(np.zeros((2, 4)), "N K"))
    with pytest.raises(AssertionError, match=r"f: b should be \(N K\), got \(2, 5\)"):
        check_shapes("f", a=(x, "N K 3"), b=(np.zeros((2, 5)), "N K"))
    with pytest.raises(AssertionError, match="f: a"):
        check_shapes("f", a=(np.zeros(2), "... 3 3"))


def test_recipes_by_name_or_project_file_only():
    assert recipes.recipe_name("fast") == "fast"
    assert recipes.recipe_name("configs/sfv_paper.py") == "paper"
    assert recipes.recipe_name("/somewhere/repo/configs/accurate.py") == "accurate"
    for bad in ("/tmp/fast.py", "fast.py", "configs/mine.py", "os", "__init__"):
        with pytest.raises(ValueError, match="not a project recipe"):
            recipes.recipe_name(bad)


def test_recipe_overrides():
    cfg = recipes.override(recipes.get("paper"),
                           ["solver.adam.iterations=5", "solver.bucket_lengths=(32, 64)"])
    assert cfg.solver.adam.iterations == 5 and tuple(cfg.solver.bucket_lengths) == (32, 64)
    with pytest.raises(ValueError, match="no key 'solver.nope'"):
        recipes.override(cfg, ["solver.nope=1"])
    with pytest.raises(ValueError, match="KEY.PATH=VALUE"):
        recipes.override(cfg, ["solver.adam.iterations"])
