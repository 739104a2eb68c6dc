"""sfv_jax: SFV's motion reconstruction from video, as a JAX functional optimization engine."""
import setuptools

setuptools.setup(
    name="sfv_jax",
    version="0.1.0",
    description=("Reconstruct clean 3D human motion from videos (SFV, Peng et al. 2018) "
                 "with pure, jit-compiled, batched JAX."),
    packages=setuptools.find_packages(include=["sfv_jax", "sfv_jax.*"]),
    python_requires=">=3.10",
    install_requires=[
        "jax>=0.4.30",
        "jaxlib>=0.4.30",
        "optax>=0.2.2",
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "chex>=0.1.86",
        "absl-py>=1.4",
        "ml-collections>=0.1.1",
        "scipy>=1.10",      # sparse regressors in SMPL files, Hungarian matching in the tracker
        "tqdm>=4.60",       # progress bars
        "h5py>=3.8",        # SFV/HMR .h5 per-frame estimates
        "numba>=0.59",      # compiled rasterizer kernels (render.rasterizer; NumPy fallback)
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "bvh>=0.3",
            "bvhio>=1.5",
            "joblib>=1.0",      # VIBE outputs are joblib files (read without joblib at run time)
        ],
        # Parity tests and peer benchmarks only; never imported by the package.
        "parity": ["torch==2.13.0", "smplx>=0.1.28"],
        # launch/check_deepmimic.py: exported motions played on pybullet's DeepMimic humanoid.
        "physics": ["pybullet==3.2.7"],
    },
    # The DeepMimic walk the demo sample's people perform and the 2D fit's limb prior fitted on
    # DeepMimic clips (sfv_jax/data/ATTRIBUTION.md).
    package_data={"sfv_jax": ["data/*.txt", "data/*.md", "data/*.npz"]},
)
