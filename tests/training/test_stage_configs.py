"""Every shipped diffusion-stage config is valid, and bad configs fail with the file named."""

import json

import pytest

from lmd_studio.training.stage_config import (
    CONFIG_DIR,
    STAGE_CONFIGS,
    ArcConfig,
    BaseConfig,
    LmdmConfig,
    LoraConfig,
    config_from_dict,
    load_stage_config,
)


@pytest.mark.parametrize("stage", sorted(STAGE_CONFIGS))
def test_shipped_config_loads(stage):
    cfg = load_stage_config(STAGE_CONFIGS[stage], CONFIG_DIR / f"{stage}.json")
    assert cfg.steps >= 1 and cfg.threads >= 1
    assert json.loads(json.dumps(cfg.to_dict()))  # round-trips as JSON (written into every run folder)


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_variant_config_loads_as_its_stage(path):
    stage = path.stem.split("_")[0]
    if stage not in STAGE_CONFIGS:
        pytest.skip(f"{path.name} is not a diffusion-stage config")
    assert load_stage_config(STAGE_CONFIGS[stage], path).steps >= 1


def test_model_v2_chain_hears_the_clock_remembers_and_is_picked_by_long_rollouts():
    base = load_stage_config(BaseConfig, CONFIG_DIR / "base_v2.json")
    lmdm = load_stage_config(LmdmConfig, CONFIG_DIR / "lmdm_v2.json")
    arc = load_stage_config(ArcConfig, CONFIG_DIR / "arc_v2.json")
    assert base.model.clock_channels == 6
    latent_rate_hz = 44100 / 2048
    assert base.model.context_frames / latent_rate_hz >= 8.0  # the memory target: ≥ 8 s of context
    assert lmdm.long_rollout_streams >= 2 and arc.long_rollout_streams >= 2
    assert lmdm.long_rollout_s >= 120 and arc.long_rollout_s >= 120
    # LMDM keeps its flow objective as the judge (the monitor's 8 unguided ping-pong steps are not how that
    # stage's model plays); ARC, whose rollouts are how the studio plays, is picked by the monitor
    assert lmdm.checkpoint_monitor == "val_loss"
    # ... so its rollouts are a record of drift, taken at a few points, not at every evaluation
    assert lmdm.long_rollout_every % lmdm.eval_every == 0 and lmdm.steps % lmdm.long_rollout_every == 0
    assert lmdm.steps // lmdm.long_rollout_every >= 3
    # every v2 stage shows the pitch control as a key in some windows, so the key knob is a key, not a chord
    assert min(lmdm.p_control_key, arc.p_control_key) > 0
    # ... the very profile the knob sends for the item's labelled key (a window's own profile holds its chords)
    assert lmdm.key_from_label and arc.key_from_label
    # generative delay continues the LMDM model on re-voiced pairs and keeps the jam pairs it learned from
    delay = load_stage_config(LmdmConfig, CONFIG_DIR / "lmdm_delay_v2.json")
    assert delay.p_delay > 0 and delay.p_partner == lmdm.p_partner and delay.pattern == lmdm.pattern
    assert delay.partner_lookback_s >= 3.0  # the studio's look-ahead spans −3…0 s


def test_shipped_chain_is_sized_for_the_laptop_budget():
    base = load_stage_config(BaseConfig, CONFIG_DIR / "base.json")
    lmdm = load_stage_config(LmdmConfig, CONFIG_DIR / "lmdm.json")
    arc = load_stage_config(ArcConfig, CONFIG_DIR / "arc.json")
    lora = load_stage_config(LoraConfig, CONFIG_DIR / "lora.json")
    assert base.model.pattern == "bidirectional" and not base.model.routing
    assert lmdm.pattern == "blockcausal"  # the shipped streaming mode
    assert base.max_minutes + lmdm.max_minutes + arc.max_minutes <= 75
    assert lora.max_minutes <= 10  # the LoRA target: ≤ 10 minutes on 2 cores
    s, o = base.model.context_frames, base.model.block_frames
    assert s % 4 == 0 and o % 4 == 0  # the discriminator head scores every 4th frame


def test_unknown_keys_and_bad_values_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stepz": 3}))
    with pytest.raises(ValueError, match=r"bad\.json.*unknown LmdmConfig keys \['stepz'\]"):
        load_stage_config(LmdmConfig, bad)
    bad.write_text(json.dumps({"p_context_full": 1.5}))
    with pytest.raises(ValueError, match=r"bad\.json.*p_context_full"):
        load_stage_config(LmdmConfig, bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json: cannot read"):
        load_stage_config(ArcConfig, bad)
    with pytest.raises(ValueError, match="routing"):
        config_from_dict(BaseConfig, {"model": {"pattern": "blockcausal"}})
    with pytest.raises(ValueError, match="min_lr"):
        BaseConfig(lr=1e-4, min_lr=1e-3)
    with pytest.raises(ValueError, match="text_encoder"):
        LoraConfig(text_encoder="t5")
    with pytest.raises(ValueError, match="max_steps_per_block"):
        ArcConfig(max_steps_per_block=1)
    with pytest.raises(ValueError, match="disc_logsnr_min < disc_logsnr_max"):
        ArcConfig(disc_logsnr_min=3.0, disc_logsnr_max=2.0)


def test_overrides_are_validated(tmp_path):
    path = CONFIG_DIR / "lora.json"
    assert load_stage_config(LoraConfig, path, steps=7).steps == 7
    with pytest.raises(ValueError, match="invalid override"):
        load_stage_config(LoraConfig, path, batch_size=0)
