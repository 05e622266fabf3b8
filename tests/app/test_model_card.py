"""A model folder describes itself from its files (the DiT header, training.json, MODEL_CARD.md) without
torch: one-line description, size, parameters, jam-trained, tempo-aware, data licences. What a folder
does not say is unknown; a damaged folder never raises. The model list shows it for every model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from lmd_studio.app.engine_parts import default_model_dir
from lmd_studio.app.model_card import (
    DESCRIPTION_MAX_CHARS,
    card_description,
    card_licences,
    read_model_card,
)
from lmd_studio.app.model_catalog import FAKE_LABEL, discover_models
from lmd_studio.core.model_files import CheckpointError, parameter_count, read_header
from lmd_studio.core.musical_clock import CLOCK_CHANNELS
from lmd_studio.model.dit import DiT
from lmd_studio.model.model_io import DIT_FILE, save_dit
from tests.support.model_folders import BREAKAGES, TINY_DIT, broken_model_folder, tiny_model_folder

CARD = """# tiny — LMD Studio model card

<!-- lmd model export: DiT section (regenerated on export) -->
## Diffusion model (`dit.safetensors`) — tiny

A **tiny** streaming model for tests. It says more in a second sentence.

### Data and licences

- hours by licence: MIT 1.5, CC0-1.0 0.25, GPL-2.0-only 4.128
"""


def _stages(*configs: dict, **extra) -> str:
    return json.dumps([{"stage": f"s{i}", "config": c, **extra} for i, c in enumerate(configs)])


def test_a_tiny_model_folder_describes_itself(tmp_path: Path) -> None:
    folder = tiny_model_folder(tmp_path / "tiny")
    (folder / "MODEL_CARD.md").write_text(CARD)
    card = read_model_card(folder)
    assert card.description == "A tiny streaming model for tests."
    assert card.size_bytes == sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    assert card.parameters == sum(t.numel() for t in DiT(TINY_DIT).state_dict().values())
    assert card.tempo_aware is False  # no clock channels
    assert card.jam_trained is None  # no training record
    assert card.data_licences == ("CC0-1.0", "GPL-2.0-only", "MIT")
    assert card.card_file == folder / "MODEL_CARD.md"
    assert "jam-trained: unknown" in card.facts() and "tempo-aware: no" in card.facts()


def test_tempo_awareness_comes_from_the_clock_channels(tmp_path: Path) -> None:
    torch.manual_seed(0)
    folder = tmp_path / "clocked"
    save_dit(folder / DIT_FILE, DiT(dataclasses.replace(TINY_DIT, clock_channels=CLOCK_CHANNELS)))
    assert read_model_card(folder).tempo_aware is True


@pytest.mark.parametrize(("stages", "jam"), [
    (_stages({"lr": 1e-3}, {"p_partner": 0.3}), True),
    (_stages({"lr": 1e-3}, {"p_partner": 0.0}), False),
    (json.dumps([{"stage": "lmdm", "jam_trained": True, "config": {}}, {"stage": "arc", "config": {}}]), True),
    (_stages({"lr": 1e-3}, {"pattern": "blockcausal"}), False),  # a record from before jam training
    (json.dumps([{"stage": "base"}]), None),  # a record that does not say
    ("[not json", None),
])
def test_jam_training_comes_from_the_training_record(tmp_path: Path, stages: str, jam: bool | None) -> None:
    folder = tiny_model_folder(tmp_path / "m")
    (folder / "training.json").write_text(stages)
    assert read_model_card(folder).jam_trained is jam


def test_generative_delay_training_comes_from_the_training_record(tmp_path: Path) -> None:
    folder = tiny_model_folder(tmp_path / "m")
    (folder / "training.json").write_text(_stages({"lr": 1e-3}, {"p_partner": 0.3}))
    card = read_model_card(folder)
    assert card.delay_trained is False and "generative delay" not in card.facts()  # before delay training
    (folder / "training.json").write_text(json.dumps([{"stage": "lmdm", "jam_trained": True, "config": {}},
                                                      {"stage": "lmdm", "config": {"p_delay": 0.3}}]))
    card = read_model_card(folder)
    assert card.delay_trained is True and card.jam_trained is True and "generative delay: yes" in card.facts()


def test_a_model_without_accompaniment_input_is_not_jam_trained(tmp_path: Path) -> None:
    folder = tmp_path / "solo"
    save_dit(folder / DIT_FILE, DiT(dataclasses.replace(TINY_DIT, accomp_channels=0)))
    (folder / "training.json").write_text(_stages({"p_partner": 0.5}))
    assert read_model_card(folder).jam_trained is False


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_folder_gives_an_unknown_card_not_an_exception(tmp_path: Path, breakage: str) -> None:
    folder, _ = broken_model_folder(tmp_path / breakage, breakage)
    card = read_model_card(folder)
    assert card.description == "" and card.card_file is None
    if breakage in ("random", "pickled"):  # no readable DiT header
        assert card.parameters is None and card.tempo_aware is None
        assert "tempo-aware: unknown" in card.facts()
    else:  # the header survived (a truncated file loses its tail; the loader names the file then)
        assert card.parameters and card.tempo_aware is False


def test_a_missing_folder_is_all_unknown(tmp_path: Path) -> None:
    card = read_model_card(tmp_path / "nowhere")
    assert (card.size_bytes, card.parameters, card.jam_trained, card.tempo_aware) == (None, None, None, None)
    assert card.facts() == "size unknown · jam-trained: unknown · tempo-aware: unknown"
    assert card.licences_text().startswith("unknown")


def test_the_header_reader_counts_parameters_and_rejects_foreign_files(tmp_path: Path) -> None:
    folder = tiny_model_folder(tmp_path / "m")
    header = read_header(folder / DIT_FILE)
    assert parameter_count(header) == sum(t.numel() for t in DiT(TINY_DIT).state_dict().values())
    (tmp_path / "text.safetensors").write_text("hello, this is not a model at all")
    with pytest.raises(CheckpointError, match="text.safetensors: not a safetensors file"):
        read_header(tmp_path / "text.safetensors")


def test_card_text_description_and_licences() -> None:
    hf_card = "---\nlanguage: en\nlicense: apache-2.0\n---\n\n# name\nThis is a [tool](https://x.y) model: it maps.\n"
    assert card_description(hf_card) == "This is a tool model: it maps."
    assert card_licences(hf_card) == ("apache-2.0",)
    first_paragraph = "# Title\n\nRelease models of `LMD Studio`, made on a CPU. More.\n\n## Codec\n\nText.\n"
    assert card_description(first_paragraph) == "Release models of LMD Studio, made on a CPU."
    long = card_description("# T\n\n" + "word " * 100)
    assert len(long) == DESCRIPTION_MAX_CHARS and long.endswith("…")
    assert card_description("") == "" and card_licences("# T\n\nno licences here\n") == ()


def test_the_shipped_default_model_describes_itself() -> None:
    folder = default_model_dir()
    if not (folder / DIT_FILE).is_file():
        pytest.skip("this checkout has no trained default model")
    card = read_model_card(folder)
    assert card.description and card.parameters and card.parameters > 1_000_000
    assert card.size_bytes == sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    assert card.tempo_aware is not None and card.jam_trained is not None
    assert card.data_licences and card.card_file is not None


def test_the_model_list_describes_every_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    tiny = tiny_model_folder(models / "tiny")
    (tiny / "MODEL_CARD.md").write_text(CARD)
    (models / "not-a-model").mkdir()
    other = tiny_model_folder(models / "other")
    choices = discover_models([models], default_dir=tiny)
    # the default's folder is listed once, as the default; every other model by name
    assert [c.label for c in choices] == ["Default model", "other", FAKE_LABEL]
    default, listed, fake = choices
    assert listed.spec == str(other)
    description, facts, where = default.detail.split("\n")
    assert description == "A tiny streaming model for tests." and where == str(tiny)
    assert "MB" in facts and "jam-trained: unknown" in facts and "tempo-aware: no" in facts
    assert "no model" in fake.detail
    missing = discover_models([models], default_dir=tmp_path / "absent")[0]
    assert "Not installed" in missing.detail and str(tmp_path / "absent" / DIT_FILE) in missing.detail
