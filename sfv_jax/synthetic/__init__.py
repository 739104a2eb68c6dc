"""Synthetic data with known truth, for tests, benchmarks and the demo (not the solver's API).

  bodies       small SMPL-format test bodies: ``tiny_body`` (cocoplus), ``small_body`` (BODY_25)
  clips        solver clips with known truth: ``make_synthetic_clip`` (crop-camera motion),
               ``make_world_clip`` (a person on a floor before a static perspective camera)
  demo_sample  the embedded demo's input entry (a rendered video, OpenPose files, estimates);
               import it as ``sfv_jax.synthetic.demo_sample`` (it pulls in rendering)

The synthetic body model itself is built in ``sfv_jax.body.synthetic``.
"""
from sfv_jax.synthetic.bodies import small_body, tiny_body
from sfv_jax.synthetic.clips import SyntheticTruth, WorldTruth, make_synthetic_clip, make_world_clip

__all__ = ["SyntheticTruth", "WorldTruth", "make_synthetic_clip", "make_world_clip", "small_body",
           "tiny_body"]
