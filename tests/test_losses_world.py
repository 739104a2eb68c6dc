"""The world mode's terms (sfv_jax.losses): plane heights, speeds, contacts, penetration, root."""
import jax
import jax.numpy as jnp
import numpy as np

from sfv_jax import losses

# A floor seen by a camera pitched down 20 degrees: unit up normal in camera axes, camera 1.5 m up.
_P = np.deg2rad(20.0)
NORMAL = jnp.array([0.0, -np.cos(_P), -np.sin(_P)], jnp.float32)
OFFSET = jnp.float32(1.5)


def _on_floor(xz: np.ndarray, height: float = 0.0) -> np.ndarray:
    """Camera-frame points at the given height above the floor, at floor coordinates (x, z)."""
    fwd = np.array([0.0, -np.sin(_P), np.cos(_P)])   # along the floor, away from the camera
    right = np.array([1.0, 0.0, 0.0])
    base = -float(OFFSET) * np.asarray(NORMAL)         # the camera's foot point
    return base + xz[..., :1] * right + xz[..., 1:2] * fwd + height * np.asarray(NORMAL)


def test_plane_heights_are_heights():
    pts = _on_floor(np.array([[0.3, 4.0], [-1.0, 6.0]]), 0.25)
    np.testing.assert_allclose(losses.plane_heights(jnp.asarray(pts, jnp.float32), NORMAL, OFFSET),
                               [0.25, 0.25], atol=1e-5)


def test_point_speeds_constant_velocity_and_padding():
    t = np.arange(10, dtype=np.float32)
    pts = np.zeros((10, 1, 3), np.float32)
    pts[:, 0, 0] = 0.02 * t
    mask = np.ones(10, np.float32)
    mask[8:] = 0.0
    v = np.asarray(losses.point_speeds(jnp.asarray(pts), jnp.asarray(mask)))
    np.testing.assert_allclose(v[:8, 0], 0.02, atol=1e-5)
    np.testing.assert_array_equal(v[8:, 0], 0.0)


def test_soft_contacts_from_height_and_speed():
    h = jnp.array([[0.0, 0.0, 0.2, -0.05]])
    v = jnp.array([[0.0, 0.05, 0.0, 0.0]])
    c = np.asarray(losses.soft_foot_contacts(h, v, jnp.ones(1), 0.03, 0.01))
    np.testing.assert_allclose(c[0, [0, 3]], 1.0)     # on / below the floor and still
    assert c[0, 1] < 1e-6 and c[0, 2] < 1e-6          # sliding fast; high up
    assert np.all(np.asarray(losses.soft_foot_contacts(h, v, jnp.zeros(1), 0.03, 0.01)) == 0)


def test_contact_static_scores_sliding_speed():
    t = 12
    still = np.tile(_on_floor(np.array([[0.0, 5.0]])), (t, 1, 1)).astype(np.float32)
    slide = still.copy()
    slide[:, 0, 0] += 0.01 * np.arange(t)             # 1 cm / frame
    c = jnp.ones((t, 1))
    m = jnp.ones(t)
    assert float(losses.contact_static(jnp.asarray(still), c, m)) == 0.0
    np.testing.assert_allclose(losses.contact_static(jnp.asarray(slide), c, m), 1e-4, rtol=1e-3)
    # Not in contact: free to move.
    assert float(losses.contact_static(jnp.asarray(slide), jnp.zeros((t, 1)), m)) == 0.0


def test_contact_height_and_penetration():
    t = 6
    up = jnp.asarray(losses.plane_heights(jnp.asarray(_on_floor(np.zeros((t, 2, 2)) + [0, 5], 0.02),
                                                      jnp.float32), NORMAL, OFFSET))
    sunk = jnp.asarray(losses.plane_heights(
        jnp.asarray(_on_floor(np.zeros((t, 2, 2)) + [0, 5], -0.05), jnp.float32), NORMAL, OFFSET))
    m = jnp.ones(t)
    np.testing.assert_allclose(losses.contact_height(up, jnp.ones((t, 2)), m), 4e-4, rtol=1e-3)
    assert float(losses.ground_penetration(up, m)) == 0.0
    np.testing.assert_allclose(losses.ground_penetration(sunk, m), 0.05 ** 2, rtol=1e-3)
    half = m.at[3:].set(0.0)
    np.testing.assert_allclose(losses.ground_penetration(sunk, half), 0.05 ** 2, rtol=1e-3)


def test_root_acceleration():
    t = np.arange(20, dtype=np.float32)[:, None]
    line = jnp.asarray(np.concatenate([0.04 * t, 0 * t, 5 + 0 * t], 1))
    par = jnp.asarray(np.concatenate([0.5 * 0.002 * t ** 2, 0 * t, 5 + 0 * t], 1))
    m = jnp.ones(20)
    np.testing.assert_allclose(losses.root_acceleration(line, m), 0.0, atol=1e-9)
    np.testing.assert_allclose(losses.root_acceleration(par, m), 0.002 ** 2 / 3, rtol=1e-3)


def test_terms_have_finite_gradients_at_rest():
    t = 8
    pts = jnp.asarray(np.tile(_on_floor(np.array([[0.0, 5.0], [0.2, 5.0]])), (t, 1, 1)),
                      jnp.float32)
    m = jnp.ones(t)

    def total(p):
        h = losses.plane_heights(p, NORMAL, OFFSET)
        c = jax.lax.stop_gradient(losses.soft_foot_contacts(h, losses.point_speeds(p, m), m,
                                                            0.03, 0.01))
        return (losses.contact_static(p, c, m) + losses.contact_height(h, c, m)
                + losses.ground_penetration(h, m) + losses.root_acceleration(p[:, 0], m)
                + jnp.sum(losses.point_speeds(p, m)))

    g = jax.grad(total)(pts)
    assert np.all(np.isfinite(np.asarray(g)))
    # Pushing a point below the floor is penalized: the gradient lifts it (along +normal).
    sunk = pts - 0.05 * NORMAL
    g = jax.grad(lambda p: losses.ground_penetration(losses.plane_heights(p, NORMAL, OFFSET), m))(sunk)
    assert float(jnp.sum(g[0, 0] * NORMAL)) < 0.0


def test_image_stillness_replaces_the_3d_speed_where_observed():
    from sfv_jax.solver import world
    t = 12
    # Two foot keypoints in crop-normalized units: one planted in the image (its crop moves:
    # the image position is what counts), one sweeping 0.05 units per frame; a third unseen.
    scale = np.full(t, 0.5, np.float32)
    start = np.stack([np.arange(t) * 3.0, np.zeros(t)], -1).astype(np.float32)
    size = np.float32(224.0)
    img = np.zeros((t, 3, 2), np.float32)
    img[:, 0] = [200.0, 300.0]
    img[:, 1] = np.stack([200.0 + 0.05 * 224 / 2 / 0.5 * np.arange(t), np.full(t, 300.0)], -1)
    target = (img * scale[:, None, None] - start[:, None]) * 2.0 / size - 1.0
    conf = np.ones((t, 3), np.float32)
    conf[:, 2] = 0.0
    mask = np.ones(t, np.float32)
    still = np.asarray(world.image_stillness(
        jnp.asarray(target), jnp.asarray(conf), jnp.asarray(mask), jnp.asarray(scale),
        jnp.asarray(start), size, (0, 1, 2, -1), 0.01))
    np.testing.assert_allclose(still[:, 0], 1.0, atol=1e-4)   # planted: still in the image
    assert np.all(still[:, 1] < 1e-6)                         # 5x the scale: moving
    assert np.all(still[:, 2] == -1.0) and np.all(still[:, 3] == -1.0)   # unobserved / none
    # Where the image says, it decides; elsewhere the 3D speed does.
    heights = jnp.zeros((t, 4))
    fast = jnp.full((t, 4), 0.05)                             # 3D: 5 cm / frame (jitter)
    c = np.asarray(losses.soft_foot_contacts(heights, fast, jnp.asarray(mask), 0.03, 0.01,
                                             jnp.asarray(still)))
    np.testing.assert_allclose(c[:, 0], 1.0, atol=1e-4)
    assert np.all(c[:, 1:] < 1e-6)
    assert world.foot_keypoint_indices(("left_ankle", "right_ankle", "left_heel"), 3) == (2, 0, 1, 1)


def test_image_stillness_bridges_short_runs_of_unseen_frames():
    from sfv_jax.solver import world
    t = 14
    scale = np.ones(t, np.float32)
    start = np.zeros((t, 2), np.float32)
    target = np.zeros((t, 2, 2), np.float32)
    target[:, 1, 0] = np.linspace(-0.6, 0.6, t)           # swept 0.09 crop units per frame
    conf = np.ones((t, 2), np.float32)
    conf[4:8] = 0.0                                        # 4 unseen frames (an occlusion)
    conf[10:11] = 0.0                                      # and 1
    args = (jnp.asarray(target), jnp.asarray(conf), jnp.ones(t), jnp.asarray(scale),
            jnp.asarray(start), np.float32(224.0), (0, 1), 0.01)
    off = np.asarray(world.image_stillness(*args))
    assert np.all(off[4:8] == -1.0) and np.all(off[10] == -1.0)   # no bridging: no evidence
    on = np.asarray(world.image_stillness(*args, gap=4))
    # The planted point is found where it was left: still through the run; the swept one
    # moved as far as before: not still. Seen frames are unchanged.
    np.testing.assert_allclose(on[4:8, 0], 1.0, atol=1e-6)
    assert np.all(on[4:8, 1] < 1e-6) and np.all(on[10] >= 0.0)
    keep = np.ones(t, bool)
    keep[[4, 5, 6, 7, 10]] = False
    np.testing.assert_array_equal(on[keep], off[keep])
    # A run longer than the gap keeps falling back on the 3D speed.
    assert np.all(np.asarray(world.image_stillness(*args, gap=3))[4:8] == -1.0)
