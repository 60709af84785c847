import pytest

from musegan.config import RunConfig
from musegan.errors import MuseganError
from musegan.training import make_config


def test_overrides_convert_by_field_type_and_round_trip_as_plain_data():
    cfg = RunConfig().apply_overrides(["train.lr=3e-4", "model.num_layers=3", "data.onsets=false",
                                       "data.track_names=soprano, bass", "train.device=cpu"])
    assert cfg.train.lr == 3e-4 and cfg.model_config.num_layers == 3 and cfg.data.onsets is False
    assert cfg.data.track_names == ("soprano", "bass")
    d = cfg.to_dict()
    assert d["data"]["track_names"] == ["soprano", "bass"]
    again = RunConfig.from_dict(d)
    assert again == cfg


def test_from_dict_rejects_unknown_keys():
    d = RunConfig().to_dict()
    d["train"]["turbo"] = True
    with pytest.raises(MuseganError, match="unknown TrainConfig keys: turbo"):
        RunConfig.from_dict(d)


def test_default_corpus_settings_then_overrides_then_flags():
    cfg = make_config("lstm", None, ["data.window_bars=2", "train.steps=7"], steps=None, batch_size=4)
    assert cfg.data.tracks == "keep" and cfg.data.track_names == ("soprano", "alto", "tenor", "bass")
    assert cfg.data.window_bars == 2 and cfg.train.steps == 7 and cfg.train.batch_size == 4
    assert make_config("lstm", "some/folder").data.tracks == "lpd5"
