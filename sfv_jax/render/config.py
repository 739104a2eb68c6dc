"""Config section of the renderer: ``RenderSettings`` (the schema) and ``render_config()``.

Colours are OpenCV BGR triples of 0..255 integers. Library functions of ``sfv_jax.render``
take a ``RenderSettings`` explicitly; nothing reads a config globally. ``render_config()`` is
the section as a ConfigDict for ``main`` and ``launch/`` (generated from the dataclass, turned
back with ``RenderSettings.from_config``; see ``sfv_jax.schema``).
"""
from __future__ import annotations

import dataclasses

import ml_collections

from sfv_jax import schema


@dataclasses.dataclass(frozen=True)
class RenderSettings(schema.Section, section="render"):
    """The ``render`` section (each field documented above it)."""

    # --- mesh rasterization and shading -------------------------------------------------
    # Which triangles to drop before rasterizing: 'back' (faces turned away from the viewer,
    # right for closed meshes wound counter-clockwise seen from outside), 'front', 'none'.
    cull: str = "back"
    # Vertex snapping precision for the exact integer edge tests: 2**subpixel_bits steps per px.
    subpixel_bits: int = 4
    # Rasterizer implementation: 'auto' (compiled Numba kernels when numba is installed,
    # else NumPy), 'numba' or 'numpy'; same coverage, see sfv_jax/render/rasterizer.py.
    rasterizer: str = "auto"
    # Gouraud shading from vertex normals (True) or flat shading from face normals (False).
    smooth_shading: bool = True
    # Ambient term of the Lambert shading, fraction of the body colour (0..1).
    ambient: float = 0.3
    # Diffuse term of the Lambert shading, fraction of the body colour (0..1).
    diffuse: float = 0.7
    # Direction towards the light in the camera frame (x right, y down, z away from viewer);
    # the default lights from the upper left, in front of the body. Need not be unit length.
    light_dir: tuple[float, float, float] = (-0.5, -0.6, -0.7)
    # Opacity of the mesh over the video frame (0 = invisible, 1 = opaque).
    alpha: float = 0.85
    # Body colour of the initial (per-frame) estimate, BGR.
    color_initial: tuple[int, int, int] = (90, 150, 235)
    # Body colour of the reconstruction (after the temporal solve), BGR.
    color_final: tuple[int, int, int] = (235, 180, 110)

    # --- keypoint overlays --------------------------------------------------------------
    # 2D keypoints below this confidence (0..1) are not drawn, nor their limbs.
    keypoint_threshold: float = 0.1
    # Radius of a keypoint dot, px at the panel's resolution.
    keypoint_radius: int = 3
    # Thickness of a limb line, px.
    limb_thickness: int = 2
    # Colours of left-side, right-side and centre points/limbs of the 2D input, BGR.
    color_left: tuple[int, int, int] = (255, 128, 0)
    color_right: tuple[int, int, int] = (0, 64, 255)
    color_center: tuple[int, int, int] = (0, 220, 220)
    # Colour of projected model keypoints (drawn over the mesh panels), BGR.
    color_model_keypoints: tuple[int, int, int] = (60, 255, 60)
    # Draw projected model keypoints over the initial / reconstruction panels.
    draw_model_keypoints: bool = True

    # --- comparison video ---------------------------------------------------------------
    # Panel arrangement: 'row' (all panels side by side) or 'grid' (2 columns).
    layout: str = "row"
    # Add the side view panel (reconstruction turned about the vertical axis).
    side_view: bool = True
    # Turn of the side view about the vertical axis, degrees.
    side_view_angle_deg: float = 90.0
    # Background colour of the side view panel, BGR.
    side_view_background: tuple[int, int, int] = (40, 40, 40)
    # Fraction of the side view panel left empty around the body (0..0.45).
    side_view_margin: float = 0.1
    # Largest panel height in px; frames taller than this are scaled down (0 = no cap).
    max_panel_height: int = 480
    # Largest panel width in px; frames wider than this are scaled down (0 = no cap).
    max_panel_width: int = 640
    # FourCC of the cv2.VideoWriter codec (4 characters); 'mp4v' writes MPEG-4 part 2.
    codec: str = "mp4v"
    # Panel labels (empty string: no label).
    label_input: str = "input + 2D keypoints"
    label_initial: str = "initial estimate"
    label_final: str = "reconstruction"
    label_side: str = "reconstruction, side"
    # Label text scale (cv2.FONT_HERSHEY_SIMPLEX units) and colour, BGR.
    label_scale: float = 0.6
    label_color: tuple[int, int, int] = (255, 255, 255)
    # Show a tqdm progress bar while rendering videos.
    progress: bool = True
    def __post_init__(self) -> None:
        s = "render"
        schema.require(self.cull in ("back", "front", "none"), s,
                       f"cull must be 'back', 'front' or 'none', got {self.cull!r}")
        schema.require(self.rasterizer in ("auto", "numba", "numpy"), s,
                       f"rasterizer must be 'auto', 'numba' or 'numpy', got {self.rasterizer!r}")
        schema.require(self.layout in ("row", "grid"), s,
                       f"layout must be 'row' or 'grid', got {self.layout!r}")
        schema.require(len(self.codec) == 4, s, f"codec must be a FourCC of 4 characters, "
                       f"got {self.codec!r}")
        schema.require(0.0 <= self.alpha <= 1.0, s, f"alpha must be in 0..1, got {self.alpha}")
        schema.require(0.0 <= self.side_view_margin <= 0.45, s,
                       f"side_view_margin must be in 0..0.45, got {self.side_view_margin}")
        schema.require(self.subpixel_bits >= 0, s, "subpixel_bits must be >= 0")
        for name in ("max_panel_height", "max_panel_width"):  # 0 = no cap, else 16..8192 px
            v = getattr(self, name)
            schema.require_range(v == 0 or 16 <= v <= 8192, s, name, v,
                                 "0 or >= 16 and <= 8192")
        schema.require_range(0.0 <= self.keypoint_threshold <= 1.0, s, "keypoint_threshold",
                             self.keypoint_threshold, ">= 0 and <= 1")
        for name in ("color_initial", "color_final", "color_left", "color_right",
                     "color_center", "color_model_keypoints", "side_view_background",
                     "label_color"):
            schema.require(all(0 <= v <= 255 for v in getattr(self, name)), s,
                           f"{name} must be a BGR triple of 0..255, got {getattr(self, name)}")


def render_config() -> ml_collections.ConfigDict:
    """The ``render`` section with its defaults, as a ConfigDict (the edge: main, launch)."""
    return schema.to_config(RenderSettings())
