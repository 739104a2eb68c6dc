"""Parity with the reference PyTorch layer ``smplx.SMPL`` on the same model file.

The model is the synthetic SMPL-sized body written as a Python 2 chumpy .pkl and as an
smplx-style .npz. smplx unpickles with plain ``pickle``, so a test-only chumpy stand-in is
put in ``sys.modules`` while it loads (chumpy is never installed). smplx.SMPL always
unpickles its ``model_path``, so for the .npz its arrays are passed as ``data_struct``.
Skips only where torch or smplx is missing.
"""
from __future__ import annotations

import sys

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")

from smpl_files import fake_chumpy, write_py2_smpl_pickle, write_smplx_npz  # noqa: E402

from sfv_jax import body  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    arrays = body.synthetic_smpl_arrays(seed=0)
    d = tmp_path_factory.mktemp("parity")
    return (write_py2_smpl_pickle(str(d / "SMPL_NEUTRAL.pkl"), arrays),
            write_smplx_npz(str(d / "SMPL_NEUTRAL.npz"), arrays))


def _smplx_layer(path: str):
    if path.endswith(".npz"):
        with np.load(path) as z:
            struct = smplx.utils.Struct(**{k: z[k] for k in z.files})
        return smplx.SMPL(model_path=path, data_struct=struct, dtype=torch.float64)
    with fake_chumpy():
        return smplx.SMPL(model_path=path, dtype=torch.float64)


# smplx unpickles the old module path scipy.sparse.csc that real SMPL files name.
@pytest.mark.filterwarnings("ignore:Please import `csc_matrix`:DeprecationWarning")
@pytest.mark.parametrize("which", ["pkl", "npz"])
def test_vertices_and_joints_match_smplx(files, which):
    path = files[0] if which == "pkl" else files[1]
    layer = _smplx_layer(path)
    assert "chumpy" not in sys.modules
    rng = np.random.default_rng(11)
    n = 4
    pose = 0.6 * rng.normal(size=(n, 72))
    pose[0] = 0.0  # the zero pose too
    betas = rng.normal(size=(n, 10))
    transl = rng.normal(size=(n, 3))
    with jax.enable_x64(True):
        model = body.load_model(path, dtype=np.float64)
        out = jax.jit(body.forward)(model, pose, betas, transl)
        verts, joints = np.asarray(out.vertices), np.asarray(out.joints)
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        ref = layer(betas=t(betas), global_orient=t(pose[:, :3]), body_pose=t(pose[:, 3:]),
                    transl=t(transl))
    assert verts.shape == tuple(ref.vertices.shape)
    np.testing.assert_allclose(verts, ref.vertices.numpy(), atol=1e-5, rtol=0)
    # smplx appends extra joints from vertex ids; the first 24 are SMPL's.
    np.testing.assert_allclose(joints, ref.joints.numpy()[:, :24], atol=1e-5, rtol=0)
    # Not a vacuous comparison: the poses move the body far from the template.
    assert np.abs(verts[1:] - model.v_template).max() > 0.1
    np.testing.assert_array_equal(np.asarray(model.faces), layer.faces.astype(np.int32))
