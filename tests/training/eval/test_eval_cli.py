"""`lmd train audiotext` and `lmd eval` through the real entry point, on a tiny corpus built here and a tiny
random model built in code. (FD's behaviour is tested on a larger synthetic set in test_eval_oracle.py: the
tiny corpus has 3 test clips, too few for meaningful covariances.)"""

from __future__ import annotations

import json

import pytest
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.data.builder import BuildConfig, build_corpus
from lmd_studio.model.codec import save_codec
from lmd_studio.model.codec_net import CodecConfig, CodecNet
from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.model_io import GeneratorConfig, save_dit
from lmd_studio.training.eval.spaces import ENCODER_FILE, STATS_FILE, EvalSpaces
from lmd_studio.training.logging import MetricsLogger
from lmd_studio.training.recipe_audio_text import DEFAULT_CONFIG, AudioTextTrainConfig, load_config

REQUIRED = ("fd_dsp", "fd_dsp_floor", "fd_dsp_ceiling", "fd_emb", "fd_emb_floor", "fd_emb_ceiling", "prompt_score",
            "prompt_score_wrong", "drift_slope", "drift_fd_slope", "loudness_corr", "seam", "rtf")
SMALL_ENCODER = {"steps": 4, "batch_size": 8, "eval_every": 2, "checkpoint_every": 2, "log_every": 1, "threads": 1,
                 "patience_evals": None, "norm_windows": 40, "fd_dims": 3, "encoder": {"width": 32, "embed_dim": 16}}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eval")
    corpus = root / "tiny"
    build_corpus(BuildConfig(out_dir=corpus, size="tiny", workers=2, progress=False), log=lambda *_: None)
    cfg = root / "encoder.json"
    cfg.write_text(json.dumps(SMALL_ENCODER))
    rc = lmd_main(["train", "audiotext", "--corpus", str(corpus), "--out", str(root / "encoder-run"),
                   "--export", str(root / "eval"), "--config", str(cfg)])
    assert rc == 0
    model = root / "models" / "tiny"
    model.mkdir(parents=True)
    torch.manual_seed(0)
    dit = DiT(DiTConfig.tiny(latent_channels=32, accomp_channels=33, text_dim=384, block_frames=4,
                             context_frames=16)).eval()
    save_dit(model / "dit.safetensors", dit, GeneratorConfig("blockcausal", "pingpong", 2))
    save_codec(model / "codec.safetensors", CodecNet(CodecConfig(width=32, encoder_blocks=1, decoder_dilations=(1,),
                                                                 gl_iters=2)))
    (model / "MODEL_CARD.md").write_text("# tiny\n\n## Data\nnone\n\n## Evaluation\nold numbers\n\n## Licence\nMIT\n")
    return {"root": root, "corpus": corpus, "eval": root / "eval", "model": model}


@pytest.fixture(scope="module")
def evaluated(setup):
    """One quick evaluation through the CLI: JSON on stdout, plots, card section."""
    import contextlib
    import io

    out = setup["root"] / "out"
    earlier = setup["root"] / "stage1.json"  # a saved result to tabulate next to this one in the card
    earlier.write_text(json.dumps({"fd_dsp": 12.5, "drift_slope": 0.25, "meta": {"model": "stage one", "steps": 8}}))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = lmd_main(["eval", "--model", str(setup["model"]), "--corpus", str(setup["corpus"]), "--eval-dir",
                       str(setup["eval"]), "--quick", "--json", "--threads", "1", "--steps", "2", "--sampler", "euler", "--out", str(out),
                       "--card", "--card-compare", str(earlier)])
    assert rc == 0
    return json.loads(buf.getvalue()), out


def test_shipped_encoder_config_is_valid():
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.encoder.clip_s == 4.0 and cfg.encoder.sample_rate_hz == 44100
    assert cfg.max_minutes is not None and 1 <= cfg.fd_dims < 20
    with pytest.raises(ValueError, match="unknown audiotext training keys"):
        AudioTextTrainConfig.from_dict({"stepz": 1})
    with pytest.raises(ValueError, match="unknown audiotext encoder keys"):
        AudioTextTrainConfig.from_dict({"encoder": {"widht": 3}})
    with pytest.raises(ValueError, match="fd_dims"):
        AudioTextTrainConfig(fd_dims=0)


def test_audiotext_recipe_exports_encoder_statistics_and_card(setup):
    run = setup["root"] / "encoder-run"
    rows = MetricsLogger.read(run / "metrics.csv")
    assert rows[0]["step"] == 1 and rows[0]["loss"] > 0
    assert any("val_retrieval_err" in r for r in rows) and (run / "loss.png").stat().st_size > 1000
    spaces = EvalSpaces.load(setup["eval"])
    assert spaces.dsp_proj.basis.shape == (3, spaces.dsp_mean.shape[0])
    assert 0 < spaces.dsp_proj.explained <= 1 and 0 < spaces.emb_proj.explained <= 1
    card = (setup["eval"] / "MODEL_CARD.md").read_text()
    assert "| test (" in card and "chance a→t R@1" in card
    retrieval = json.loads((run / "retrieval.json").read_text())
    assert 0 <= retrieval["test_r1_a2t"] <= 1 and retrieval["steps"] == 4
    # exporting again from the run folder gives the same encoder
    before = (setup["eval"] / ENCODER_FILE).read_bytes()
    rc = lmd_main(["train", "audiotext", "--corpus", str(setup["corpus"]), "--out", str(run), "--export",
                   str(setup["root"] / "eval2"), "--export-only"])
    assert rc == 0
    again = EvalSpaces.load(setup["root"] / "eval2")
    for a, b in zip(spaces.encoder.state_dict().values(), again.encoder.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert len(before) > 10_000


def test_lmd_eval_quick_reports_every_key_plots_and_the_card(setup, evaluated):
    result, out = evaluated
    for key in REQUIRED:
        assert isinstance(result[key], float), key
    for space in ("dsp", "emb"):
        assert result[f"fd_{space}"] >= 0 and result[f"fd_{space}_floor"] >= 0 and result[f"fd_{space}_ceiling"] > 0
    assert -1 <= result["prompt_score"] <= 1 and -1 <= result["loudness_corr"] <= 1
    assert result["rtf"] > 0 and result["first_audio_s"] > 0 and result["seam"] > 0
    assert result["meta"]["steps"] == 2 and result["meta"]["clips"] == 3 and "series" not in result
    assert result["meta"]["sampler"] == "euler", "--sampler overrides the model's own (ping-pong) sampler"
    assert "--sampler euler" in result["meta"]["command"]
    assert "pink noise" in result["meta"]["ceiling_reference"]
    saved = json.loads((out / "eval.json").read_text())
    assert saved["fd_dsp"] == pytest.approx(result["fd_dsp"]) and saved["series"]["drift"]
    for name in ("fd.png", "drift.png", "controls.png", "music.png"):
        assert (out / name).stat().st_size > 5000
    # the musical meters: model and real clips side by side, the text-only model asked through its prompt
    for key in ("tempo_within_2pct", "tempo_within_2pct_real", "beat_offset_ms_median_real", "key_accuracy",
                "key_accuracy_real", "harmony_change_rate_real"):
        assert key in result, key
    assert result["music_request"] == "prompt" and "music_series" not in result and saved["music_series"]["rhythm"]
    card = (setup["model"] / "MODEL_CARD.md").read_text()
    assert card.count("## Evaluation") == 1 and "old numbers" not in card
    assert "## Data" in card and "## Licence" in card and "![drift](eval/drift.png)" in card
    assert (setup["model"] / "eval" / "fd.png").is_file()
    table = card[card.index("### Stages and step counts"):]
    assert "stage one (steps 8" in table and "| 12.5 |" in table and "tiny (euler steps 2" in table


def test_compare_prints_two_results_side_by_side(setup, evaluated, capsys):
    result, out = evaluated
    a, b = setup["root"] / "a.json", setup["root"] / "b.json"
    a.write_text(json.dumps(result))
    worse = dict(result, fd_dsp=result["fd_dsp"] + 100.0, meta=dict(result["meta"], model="worse"))
    b.write_text(json.dumps(worse))
    capsys.readouterr()
    assert lmd_main(["eval", "--compare", str(a), str(b)]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith("FD, DSP descriptor"))
    assert line.rstrip().endswith("A") and "worse" in text
    assert lmd_main(["eval", "--compare", str(a), str(b), "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["B"]["fd_dsp"] == pytest.approx(result["fd_dsp"] + 100.0)
    # an earlier run's --out folder (with the plotted series) against a saved file: drift curves side by side
    full = json.loads((out / "eval.json").read_text())
    c = setup["root"] / "c.json"
    c.write_text(json.dumps(dict(full, drift_slope=1.0, meta=dict(full["meta"], model="other"))))
    plots = setup["root"] / "compare"
    assert lmd_main(["eval", "--compare", str(out), str(c), "--out", str(plots)]) == 0
    assert (plots / "compare_drift.png").stat().st_size > 5000 and (plots / "B" / "drift.png").is_file()
    assert "other" in capsys.readouterr().out
    # a result saved before the segment-FD keys existed gets them from its stored segments
    old = {k: v for k, v in full.items() if not k.startswith("drift_fd_")}
    old["meta"] = dict(full["meta"], drift_segments=[{"start_s": 0.0, "windows": 9, "fd_dsp": 30.0},
                                                     {"start_s": 30.0, "windows": 9, "fd_dsp": 33.0}])
    d = setup["root"] / "old.json"
    d.write_text(json.dumps(old))
    assert lmd_main(["eval", "--compare", str(d), str(c), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["A"]["drift_fd_slope"] == pytest.approx(6.0)


def test_clear_errors_for_missing_model_corpus_and_encoder(setup, tmp_path, capsys):
    base = ["eval", "--corpus", str(setup["corpus"]), "--eval-dir", str(setup["eval"]), "--quick"]
    assert lmd_main([*base, "--model", str(tmp_path / "nope")]) == 2
    assert "nope: model folder not found" in capsys.readouterr().err
    assert lmd_main(["eval", "--model", str(setup["model"]), "--corpus", str(tmp_path), "--eval-dir",
                     str(setup["eval"]), "--quick"]) == 2
    assert "not a corpus folder" in capsys.readouterr().err
    assert lmd_main(["eval", "--model", str(setup["model"]), "--corpus", str(setup["corpus"]), "--eval-dir",
                     str(tmp_path), "--quick"]) == 2
    err = capsys.readouterr().err
    assert ENCODER_FILE in err and "lmd train audiotext" in err
    (tmp_path / ENCODER_FILE).write_bytes((setup["eval"] / ENCODER_FILE).read_bytes())
    (tmp_path / STATS_FILE).write_bytes(b"garbage")
    assert lmd_main(["eval", "--model", str(setup["model"]), "--corpus", str(setup["corpus"]), "--eval-dir",
                     str(tmp_path), "--quick"]) == 2
    assert STATS_FILE in capsys.readouterr().err
    assert lmd_main(["eval", "--compare", str(tmp_path / "x.json"), str(tmp_path / "y.json")]) == 2
    assert "model folder not found" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value", "says"), [("--bpm", "5", "--bpm"), ("--meter", "7/5", "--meter"),
                                                     ("--key", "H dorian", "--key"), ("--music-items", "0", "items"),
                                                     ("--jam-lookahead-s", "9", "--jam-lookahead-s"),
                                                     ("--jam-lookahead-s", "nan", "--jam-lookahead-s"),
                                                     ("--jam-items", "0", "--jam-items"),
                                                     ("--delay-s", "9", "--delay-s"),
                                                     ("--delay-s", "nan", "--delay-s"),
                                                     ("--delay-items", "1", "--delay-items")])
def test_bad_music_flags_fail_before_anything_loads(flag, value, says, capsys, tmp_path):
    assert lmd_main(["eval", "--model", str(tmp_path / "missing"), flag, value]) == 2
    assert says in capsys.readouterr().err


def test_no_key_knob_cannot_go_with_a_key(capsys, tmp_path):
    assert lmd_main(["eval", "--model", str(tmp_path / "missing"), "--no-key-knob", "--key", "A minor"]) == 2
    assert "--no-key-knob leaves the key knob on Auto" in capsys.readouterr().err


def test_music_only_measures_the_musical_meters_and_nothing_else(setup, capsys):
    capsys.readouterr()
    rc = lmd_main(["eval", "--model", str(setup["model"]), "--corpus", str(setup["corpus"]), "--eval-dir",
                   str(setup["eval"]), "--quick", "--json", "--threads", "1", "--steps", "2", "--music-only",
                   "--music-items", "1", "--out", str(setup["root"] / "music-only")])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert "tempo_within_2pct" in result and "key_accuracy_real" in result and "chord_follow_rate" in result
    assert not any(key in result for key in REQUIRED)  # no FD, drift, seams or speed were measured
    assert result["meta"]["music_only"] is True and result["meta"]["steps"] == 2
    assert "--music-only" in result["meta"]["command"]
    assert sorted(p.name for p in (setup["root"] / "music-only").glob("*.png")) == ["music.png"]
    for clash in ("--no-music", "--card"):
        assert lmd_main(["eval", "--model", str(setup["model"]), "--music-only", clash]) == 2
        assert "--music-only" in capsys.readouterr().err
