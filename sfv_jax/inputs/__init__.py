"""Inputs: 2D keypoint readers, per-frame 3D estimates, and multi-person tracking.

Readers turn OpenPose / AlphaPose output into ``Detections``; ``track_people`` turns those
into per-person ``Track``s (BODY_25 keypoints, smoothed boxes, SFV's HMR crops);
``attach_estimates`` adds per-frame HMR / HMMR / VIBE pose, shape and camera.
"""
from sfv_jax.inputs.alphapose import read_alphapose, write_alphapose
from sfv_jax.inputs.config import (ReadingSettings, TrackingSettings, reading_config,
                                   tracking_config)
from sfv_jax.inputs.estimates import (Estimates, attach_estimates, read_estimates,
                                      read_estimates_npz, read_hmmr_pkl, read_hmr_h5,
                                      read_vibe_pkl, save_estimates_npz, save_hmr_h5)
from sfv_jax.inputs.openpose import (read_openpose_folder, read_openpose_frame,
                                     write_openpose_folder, write_openpose_frame)
from sfv_jax.inputs.track import Detections, InputError, Track
from sfv_jax.inputs.track_npz import load_tracks, save_tracks
from sfv_jax.inputs.tracker import box_iou, boxes_from_keypoints, nms, track_people, with_crops

__all__ = [
    "Detections", "Estimates", "InputError", "ReadingSettings", "Track", "TrackingSettings",
    "attach_estimates", "box_iou",
    "boxes_from_keypoints", "load_tracks",
    "nms", "read_alphapose", "read_estimates", "read_estimates_npz", "read_hmmr_pkl",
    "read_hmr_h5", "read_openpose_folder", "read_openpose_frame", "read_vibe_pkl",
    "reading_config", "save_estimates_npz", "save_hmr_h5", "save_tracks", "track_people",
    "tracking_config", "with_crops", "write_alphapose", "write_openpose_folder",
    "write_openpose_frame",
]
