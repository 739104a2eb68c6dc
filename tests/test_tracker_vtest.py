"""Tracking real pedestrians: the first 150 frames of ../shared/data/video/vtest.avi through
launch/track_video.py (background-subtraction detections + standing-person keypoints).
Skips when ../shared is absent."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sfv_jax.inputs import load_tracks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIDEO = os.path.join(ROOT, "..", "shared", "data", "video", "vtest.avi")


@pytest.mark.skipif(not os.path.isfile(VIDEO), reason="../shared/data/video/vtest.avi not available")
def test_vtest_first_150_frames(tmp_path):
    out = tmp_path / "tracks.npz"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "launch", "track_video.py"), f"--video={VIDEO}",
         "--detector=motion", "--max_frames=150", f"--out={out}"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["frames_read"] == 150
    assert summary["tracks"] >= 2
    tracks = load_tracks(str(out))
    assert len(tracks) == summary["tracks"]
    for t in tracks:
        assert t.image_size == (576, 768) and t.num_frames >= 10
        assert t.frames[-1] < 150
        h = t.boxes[:, 3] - t.boxes[:, 1]
        assert np.all((h > 30) & (h < 300))  # pedestrians, not the whole frame
        # Different tracks are different people: not the same box at the same frames.
    for a in tracks:
        for b in tracks:
            if a.track_id < b.track_id:
                common, ia, ib = np.intersect1d(a.frames, b.frames, return_indices=True)
                if common.size:
                    d = np.linalg.norm(a.boxes[ia, :2] - b.boxes[ib, :2], axis=1)
                    assert np.median(d) > 10
