"""Rendering: a NumPy z-buffer rasterizer, skeleton overlays, comparison videos and plots.

Layer 5: imports only ``skeletons`` and ``atomic`` from the package (no JAX needed to render).
"""
from sfv_jax.render.cameras import (ScreenCamera, as_screen_camera, fit_orthographic, project, resize_screen,
                                    rotate_about_vertical)
from sfv_jax.render.config import RenderSettings, render_config
from sfv_jax.render.overlay import draw_keypoints, draw_points, put_label
from sfv_jax.render.plots import (keypoint_error_per_frame, plot_error_per_frame,
                                  plot_joint_trajectory, plot_loss_curves)
from sfv_jax.render.rasterizer import (Fragments, composite, draw_mesh, face_normals, rasterize,
                                       shade, vertex_normals)
from sfv_jax.render.video import (RING_FOR_WRITER, compose_panels, comparison_frames, panel_size,
                                  render_comparison_video, side_view_camera,
                                  side_view_vertex_step, write_video)

__all__ = [
    "Fragments", "RING_FOR_WRITER", "ScreenCamera", "as_screen_camera", "comparison_frames", "compose_panels", "composite",
    "draw_keypoints", "draw_mesh", "draw_points", "face_normals", "fit_orthographic",
    "keypoint_error_per_frame", "panel_size", "plot_error_per_frame", "plot_joint_trajectory",
    "plot_loss_curves", "project", "put_label", "rasterize", "render_comparison_video",
    "RenderSettings", "render_config", "resize_screen", "rotate_about_vertical", "shade", "side_view_camera",
    "side_view_vertex_step", "vertex_normals",
    "write_video",
]
