"""The camera's focal length from an input's info.json: pixels, 35 mm equivalent, or field of view."""
import json
import math

import pytest

from sfv_jax.inputs.discovery import Entry, input_focal
from sfv_jax.inputs.track import InputError

SIZE = (1080, 1920)  # (H, W)


def entry_with(tmp_path, info) -> Entry:
    path = tmp_path / "info.json"
    path.write_text(json.dumps(info))
    return Entry(name="v", folder=str(tmp_path), info=str(path))


def test_pixels_35mm_equivalent_and_field_of_view(tmp_path):
    assert input_focal(entry_with(tmp_path, {"fps": 30, "focal_length": 1500}), SIZE) == 1500.0
    # A phone's main camera, 26 mm equivalent, on a 1920 x 1080 frame: the 43.27 mm film
    # diagonal maps to the 2202.9 px image diagonal.
    f35 = input_focal(entry_with(tmp_path, {"focal_length_35mm": 26}), SIZE)
    assert f35 == pytest.approx(26.0 * math.hypot(1080, 1920) / math.hypot(36, 24))
    assert f35 == pytest.approx(1323.7, abs=0.1)
    # 90 degrees across 1920 px: the focal is half the width.
    assert input_focal(entry_with(tmp_path, {"horizontal_fov_deg": 90}), SIZE) == \
        pytest.approx(960.0)
    # Nothing said: the job falls back to its default (None here).
    assert input_focal(entry_with(tmp_path, {"fps": 30}), SIZE) is None
    assert input_focal(Entry(name="v"), SIZE) is None


@pytest.mark.parametrize("info, match", [
    ({"focal_length": 1500, "horizontal_fov_deg": 60}, "once"),
    ({"horizontal_fov_deg": 180}, "below 180"),
    ({"focal_length_35mm": -26}, "millimetres"),
    ({"focal_length": "wide"}, "pixels"),
    ({"focal_length": True}, "pixels"),
])
def test_bad_focal_fields_name_the_file(tmp_path, info, match):
    with pytest.raises(InputError, match=match) as e:
        input_focal(entry_with(tmp_path, info), SIZE)
    assert "info.json" in str(e.value)
