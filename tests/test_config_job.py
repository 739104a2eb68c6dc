"""The job config's schema: JobConfig composes every section; job_config() is generated from it."""
import pytest

from sfv_jax import config_checks, recipes, schema
from sfv_jax.body.config import BodySettings, body_config
from sfv_jax.export.config import ExportSettings, GroundSettings, export_config
from sfv_jax.job_config import JobConfig, job_config


def test_job_config_round_trips_and_is_hashable():
    cfg = job_config()
    typed = JobConfig.from_config(cfg)
    assert typed == JobConfig() and hash(typed) == hash(JobConfig())
    assert schema.to_config(typed).to_dict() == cfg.to_dict()
    # What a worker process gets (a plain dict) rebuilds the same config.
    assert JobConfig.from_config(typed.to_config().to_dict()) == typed
    assert config_checks.check_config(cfg) == typed
    assert config_checks.check_config(typed) is typed


def test_overrides_are_typed_and_strict():
    cfg = job_config().to_dict()
    cfg["export"]["bvh"]["decimals"] = 3.0   # an integral float is an int
    cfg["inputs"]["videos"] = ["a", "b"]
    typed = JobConfig.from_config(cfg)
    assert typed.export.bvh.decimals == 3 and isinstance(typed.export.bvh.decimals, int)
    assert typed.inputs.videos == ("a", "b")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['colour'\]"):
        JobConfig.from_config({"colour": 1})
    cfg = job_config()
    cfg.export.deepmimic.root_anchor = "feet"
    with pytest.raises(config_checks.ConfigError,
                       match=r"^config: .*export\.deepmimic\.root_anchor must be"):
        config_checks.check_config(cfg)
    cfg = job_config()
    cfg.job.window_overlap = 300
    with pytest.raises(config_checks.ConfigError, match=r"job\.window_overlap = 300 is out"):
        config_checks.check_config(cfg)


def test_sections_keep_their_keys_and_defaults():
    assert export_config().ground.mode == "clip" and export_config().bvh.euler_order == "zyx"
    assert ExportSettings.from_config(export_config()) == ExportSettings()
    assert BodySettings.from_config(body_config()) == BodySettings()
    assert schema.replace(ExportSettings(), ground=GroundSettings(mode="none")).ground.mode \
        == "none"


@pytest.mark.parametrize("name", ["paper", "fast", "accurate", "demo", "video", "world"])
def test_recipes_pass_the_checks(name):
    assert isinstance(config_checks.check_config(recipes.get(name)), JobConfig)
