"""Config section of the renderer: ``render_config()``.

Colours are OpenCV BGR triples of 0..255 integers. Library functions of ``sfv_jax.render``
take this section (or a copy with keys overridden) explicitly; nothing reads it globally.
"""
from __future__ import annotations

import ml_collections


def render_config() -> ml_collections.ConfigDict:
    """The ``render`` section with its defaults (each key documented inline)."""
    c = ml_collections.ConfigDict()

    # --- mesh rasterization and shading -------------------------------------------------
    # Which triangles to drop before rasterizing: 'back' (faces turned away from the viewer,
    # right for closed meshes wound counter-clockwise seen from outside), 'front', 'none'.
    c.cull = "back"
    # Vertex snapping precision for the exact integer edge tests: 2**subpixel_bits steps per px.
    c.subpixel_bits = 4
    # Rasterizer implementation: 'auto' (compiled Numba kernels when numba is installed,
    # else NumPy), 'numba' or 'numpy'; same coverage, see sfv_jax/render/rasterizer.py.
    c.rasterizer = "auto"
    # Gouraud shading from vertex normals (True) or flat shading from face normals (False).
    c.smooth_shading = True
    # Ambient term of the Lambert shading, fraction of the body colour (0..1).
    c.ambient = 0.3
    # Diffuse term of the Lambert shading, fraction of the body colour (0..1).
    c.diffuse = 0.7
    # Direction towards the light in the camera frame (x right, y down, z away from viewer);
    # the default lights from the upper left, in front of the body. Need not be unit length.
    c.light_dir = (-0.5, -0.6, -0.7)
    # Opacity of the mesh over the video frame (0 = invisible, 1 = opaque).
    c.alpha = 0.85
    # Body colour of the initial (per-frame) estimate, BGR.
    c.color_initial = (90, 150, 235)
    # Body colour of the reconstruction (after the temporal solve), BGR.
    c.color_final = (235, 180, 110)

    # --- keypoint overlays --------------------------------------------------------------
    # 2D keypoints below this confidence (0..1) are not drawn, nor their limbs.
    c.keypoint_threshold = 0.1
    # Radius of a keypoint dot, px at the panel's resolution.
    c.keypoint_radius = 3
    # Thickness of a limb line, px.
    c.limb_thickness = 2
    # Colours of left-side, right-side and centre points/limbs of the 2D input, BGR.
    c.color_left = (255, 128, 0)
    c.color_right = (0, 64, 255)
    c.color_center = (0, 220, 220)
    # Colour of projected model keypoints (drawn over the mesh panels), BGR.
    c.color_model_keypoints = (60, 255, 60)
    # Draw projected model keypoints over the initial / reconstruction panels.
    c.draw_model_keypoints = True

    # --- comparison video ---------------------------------------------------------------
    # Panel arrangement: 'row' (all panels side by side) or 'grid' (2 columns).
    c.layout = "row"
    # Add the side view panel (reconstruction turned about the vertical axis).
    c.side_view = True
    # Turn of the side view about the vertical axis, degrees.
    c.side_view_angle_deg = 90.0
    # Background colour of the side view panel, BGR.
    c.side_view_background = (40, 40, 40)
    # Fraction of the side view panel left empty around the body (0..0.45).
    c.side_view_margin = 0.1
    # Largest panel height in px; frames taller than this are scaled down (0 = no cap).
    c.max_panel_height = 480
    # Largest panel width in px; frames wider than this are scaled down (0 = no cap).
    c.max_panel_width = 640
    # FourCC of the cv2.VideoWriter codec (4 characters); 'mp4v' writes MPEG-4 part 2.
    c.codec = "mp4v"
    # Panel labels (empty string: no label).
    c.label_input = "input + 2D keypoints"
    c.label_initial = "initial estimate"
    c.label_final = "reconstruction"
    c.label_side = "reconstruction, side"
    # Label text scale (cv2.FONT_HERSHEY_SIMPLEX units) and colour, BGR.
    c.label_scale = 0.6
    c.label_color = (255, 255, 255)
    # Show a tqdm progress bar while rendering videos.
    c.progress = True
    return c
