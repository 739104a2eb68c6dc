"""Geometry: rotation conversions (``rotations``), HMR's crop recipe and crop / image
coordinates (``crops``), camera models and their conversions (``cameras``), boxes (``boxes``).
"""
from sfv_jax.geometry import rotations
from sfv_jax.geometry.rotations import (
    axis_angle_to_matrix, axis_angle_to_quaternion, axis_rotation, euler_to_matrix,
    matrix_to_axis_angle, matrix_to_euler, matrix_to_quaternion, matrix_to_rot6d,
    quaternion_conjugate, quaternion_multiply, quaternion_normalize, quaternion_to_axis_angle,
    quaternion_to_matrix, relative_angle, rot6d_to_matrix, skew,
)

__all__ = ["rotations"] + list(rotations.__all__)
