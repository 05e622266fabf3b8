"""`lmd train base|lmdm|arc` and `lmd model export` through the real entry point on a tiny corpus and a tiny
model built in code; resuming gives the losses of an uninterrupted run; a NaN stops with the last good
checkpoint kept."""

import json
import re
import shutil

import numpy as np
import pytest
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.model.checkpoint import read_metadata
from lmd_studio.model.generator import TorchBlockGenerator
from lmd_studio.model.model_io import load_dit
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.logging import MetricsLogger
from lmd_studio.training.loop import load_training_checkpoint
from tests.training.resume_support import assert_same_training_state


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def train(stage, setup, out, *extra):
    return lmd_main(["train", stage, "--latents", str(setup.latents), "--config", str(setup.config(stage)),
                     "--out", str(out), "--device", "cpu", *extra])


def losses(run_dir):
    return [(r["step"], r["loss"]) for r in MetricsLogger.read(run_dir / "metrics.csv") if "loss" in r]


@pytest.fixture(scope="module")
def chain(diffusion_tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    assert train("base", diffusion_tiny, root / "base") == 0
    assert train("lmdm", diffusion_tiny, root / "lmdm", "--init", str(root / "base")) == 0
    assert train("arc", diffusion_tiny, root / "arc", "--init", str(root / "lmdm")) == 0
    return root


def test_each_stage_writes_its_run_folder(chain):
    for stage in ("base", "lmdm", "arc"):
        run = chain / stage
        assert (run / "last.pt").exists() and (run / "loss.png").stat().st_size > 1000
        summary = json.loads((run / "summary.json").read_text())
        assert summary["stage"] == stage and summary["status"] == "done" and summary["replicas_agree"]
        assert summary["hardware"]["device"] == "cpu" and summary["wall_s"] >= 0
        assert all(np.isfinite(loss) for _, loss in losses(run))
        assert read_metadata(run / "model.safetensors")["format"] == "lmd-dit"
        load_training_checkpoint(run / "last.pt")  # weights_only loads: no pickled objects
    base, _ = load_dit(chain / "base" / "model.safetensors")
    lmdm, gen = load_dit(chain / "lmdm" / "model.safetensors")
    arc, arc_gen = load_dit(chain / "arc" / "model.safetensors")
    assert base.cfg.pattern == "bidirectional" and not base.cfg.routing and base.context_in is None
    assert lmdm.cfg.pattern == "blockcausal" and lmdm.cfg.routing and gen.sampler == "euler"
    assert arc_gen.sampler == "pingpong" and arc_gen.mode == "blockcausal"
    # stage 1 copies every base weight; only the routing input is new (and then everything trains)
    assert set(lmdm.state_dict()) - set(base.state_dict()) == {"context_in.weight"}
    arc_metrics = MetricsLogger.read(chain / "arc" / "metrics.csv")
    assert "d_flow" in arc_metrics[0] and "g_adv" in arc_metrics[-2]  # warm-up first, then G/D updates
    assert "g_flow" in arc_metrics[-2]  # the optional flow regulariser ran
    assert any("val_latent_fd" in r for r in arc_metrics)


def test_export_makes_a_release_folder_the_studio_runs(chain, tmp_path):
    models = tmp_path / "models"
    assert lmd_main(["model", "export", "--run", str(chain / "arc"), "--name", "tiny", "--models-dir",
                     str(models)]) == 0
    folder = models / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == ["MODEL_CARD.md", "codec.safetensors", "dit.safetensors",
                                                        "training.json"]
    card = (folder / "MODEL_CARD.md").read_text()
    for needle in ("| base |", "| lmdm |", "| arc |", "hours by licence", "parameters", "blockcausal"):
        assert needle in card, needle
    # a second export keeps other sections of the card (the codec's) and replaces its own
    (folder / "MODEL_CARD.md").write_text("# default\n\n## Codec\n\ncodec notes\n\n" + card)
    note = tmp_path / "note.md"
    note.write_text("ARC kept for a test.\n")
    assert lmd_main(["model", "export", "--run", str(chain / "arc"), "--name", "tiny", "--models-dir",
                     str(models), "--note-file", str(note)]) == 0
    card = (folder / "MODEL_CARD.md").read_text()
    assert card.startswith("# default") and "codec notes" in card and "ARC kept for a test." in card
    assert str(note) not in card  # the file's text, not its name
    # the limitations quote the measured compute and the corpus size, not a fixed sentence
    assert re.search(r"trained for \d+ minutes \(1× .+, \d+ threads\) on [\d.]+ h of rendered", card)
    assert card.count("## Diffusion model") == 1
    # evaluation results written into the section by `lmd eval` survive a re-export
    (folder / "MODEL_CARD.md").write_text(card.replace("TODO (`lmd eval", "FD 1.23 measured (`lmd eval"))
    assert lmd_main(["model", "export", "--run", str(chain / "arc"), "--name", "tiny", "--models-dir",
                     str(models)]) == 0
    card = (folder / "MODEL_CARD.md").read_text()
    assert "FD 1.23 measured" in card and card.count("### Evaluation") == 1
    gen = TorchBlockGenerator.from_folder(folder, threads=1, text_encoder=FakeTextEncoder(16, 8))
    controls = BlockControls(prompts=(PromptSlot("piano", 1.0),), values={})
    audio, _ = gen.generate_block(gen.init_state(0), controls)
    assert audio.shape == (gen.block_frames, 1) and np.isfinite(audio).all()
    # a codec other than the one the latents were encoded with is refused
    other = tmp_path / "other.safetensors"
    from lmd_studio.model.codec import load_codec, save_codec

    net = load_codec(folder / "codec.safetensors").net
    with torch.no_grad():
        net.latent_mean.add_(1.0)
    save_codec(other, net)
    assert lmd_main(["model", "export", "--run", str(chain / "arc"), "--name", "tiny2", "--models-dir",
                     str(models), "--codec", str(other)]) == 2
    # ... unless it declares the latents' space as its own (a codec2 trained with that codec as teacher)
    from lmd_studio.training.latents import codec_fingerprint

    save_codec(other, net, extra={"latent_space": codec_fingerprint(folder / "codec.safetensors")})
    assert lmd_main(["model", "export", "--run", str(chain / "arc"), "--name", "tiny2", "--models-dir",
                     str(models), "--codec", str(other)]) == 0


@pytest.mark.parametrize("stage", ["base", "lmdm", "arc"])
def test_resume_gives_the_same_losses(stage, diffusion_tiny, chain, tmp_path):
    data = json.loads(diffusion_tiny.config(stage).read_text())
    data.update(steps=4, bf16=False, checkpoint_every=2)
    cfg = diffusion_tiny.write_config(f"{stage}-resume", data)
    init = {"base": [], "lmdm": ["--init", str(chain / "base")], "arc": ["--init", str(chain / "lmdm")]}[stage]

    def run(out, *steps):
        return lmd_main(["train", stage, "--latents", str(diffusion_tiny.latents), "--config", str(cfg),
                         "--out", str(out), "--device", "cpu", *init, *steps])

    assert run(tmp_path / "straight") == 0
    assert run(tmp_path / "split", "--steps", "2") == 0
    assert run(tmp_path / "split", "--steps", "4") == 0
    a, b = losses(tmp_path / "straight"), losses(tmp_path / "split")
    assert [s for s, _ in a] == [s for s, _ in b] == [1, 2, 3, 4]
    np.testing.assert_allclose([v for _, v in b], [v for _, v in a], rtol=1e-6, atol=1e-7)
    assert_same_training_state(tmp_path / "straight", tmp_path / "split", steps=4)


def test_nan_stops_with_the_last_good_checkpoint(diffusion_tiny, tmp_path):
    latents = tmp_path / "latents"
    shutil.copytree(diffusion_tiny.latents, latents)
    out = tmp_path / "run"
    args = ["train", "base", "--latents", str(latents), "--config", str(diffusion_tiny.config("base")),
            "--out", str(out), "--device", "cpu"]
    assert lmd_main(args + ["--steps", "1"]) == 0
    for path in (latents / "train").glob("*.npz"):  # poison every training window
        with np.load(path) as z:
            arrays = dict(z)
        arrays["latents"] = np.full_like(arrays["latents"], np.nan)
        np.savez(path, **arrays)
    assert lmd_main(args + ["--steps", "3"]) == 3
    assert load_training_checkpoint(out / "last.pt")["step"] == 1
    assert all(np.isfinite(v) for _, v in losses(out))


def test_user_errors_are_reported_not_raised(diffusion_tiny, tmp_path, capsys):
    assert lmd_main(["train", "base", "--out", str(tmp_path / "x"), "--config", str(diffusion_tiny.config("base"))]) == 2
    assert "pass --corpus" in capsys.readouterr().err
    assert lmd_main(["train", "lmdm", "--latents", str(diffusion_tiny.latents), "--out", str(tmp_path / "y"),
                     "--config", str(diffusion_tiny.config("lmdm")), "--init", str(tmp_path / "missing")]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_encdec_stage1_through_the_entry_point(diffusion_tiny, chain, tmp_path):
    data = json.loads(diffusion_tiny.config("lmdm").read_text())
    cfg = diffusion_tiny.write_config("lmdm-encdec", dict(data, pattern="encdec"))
    out = tmp_path / "encdec"
    assert lmd_main(["train", "lmdm", "--latents", str(diffusion_tiny.latents), "--config", str(cfg), "--out",
                     str(out), "--device", "cpu", "--init", str(chain / "base")]) == 0
    dit, gen_cfg = load_dit(out / "model.safetensors")
    assert dit.cfg.pattern == "encdec" and gen_cfg.mode == "encdec"
    assert lmd_main(["model", "export", "--run", str(out), "--name", "ed", "--models-dir", str(tmp_path)]) == 0
    gen = TorchBlockGenerator.from_folder(tmp_path / "ed", threads=1, text_encoder=FakeTextEncoder(16, 8))
    state = gen.init_state(1)
    for _ in range(3):  # the context fills up block by block
        audio, state = gen.generate_block(state, BlockControls(prompts=(PromptSlot("drums", 1.0),)))
        assert np.isfinite(audio).all()


def test_latents_command(diffusion_tiny, tmp_path, capsys):
    out = tmp_path / "latents"
    assert lmd_main(["train", "latents", "--corpus", str(diffusion_tiny.corpus), "--codec", str(diffusion_tiny.codec),
                     "--latents", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"{out}: train" in printed and (out / "latents.json").is_file()
    assert lmd_main(["train", "latents", "--corpus", str(tmp_path / "nothing"), "--latents", str(out)]) == 2


def _ema_or_gen(state):
    for prefix in ("ema.", "gen."):
        picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if picked:
            return picked
    return state


def test_export_from_a_training_checkpoint_of_a_stage_still_training(chain, tmp_path, capsys):
    run = tmp_path / "lmdm"
    shutil.copytree(chain / "lmdm", run)
    payload = load_training_checkpoint(run / "last.pt")
    name = next(iter(payload["model"]))
    payload["model"][name] = payload["model"][name] + 0.5  # the last step differs from the chosen export
    payload["step"] = 1234
    torch.save(payload, run / "last.pt")
    models = tmp_path / "models"
    assert lmd_main(["model", "export", "--run", str(run), "--name", "last", "--models-dir", str(models),
                     "--checkpoint", "last"]) == 0
    exported, _ = load_dit(models / "last" / "dit.safetensors")
    assert torch.equal(exported.state_dict()[name], payload["model"][name])
    assert read_metadata(models / "last" / "dit.safetensors")["checkpoint"] == "last (step 1234)"
    assert "last training checkpoint, step 1234" in (models / "last" / "MODEL_CARD.md").read_text()
    # the default is still the run's own export, untouched by the checkpoint
    assert lmd_main(["model", "export", "--run", str(run), "--name", "chosen", "--models-dir", str(models)]) == 0
    chosen, _ = load_dit(models / "chosen" / "dit.safetensors")
    stage, _ = load_dit(run / "model.safetensors")
    assert torch.equal(chosen.state_dict()[name], stage.state_dict()[name])
    assert not torch.equal(chosen.state_dict()[name], exported.state_dict()[name])
    # an ARC checkpoint holds generator, discriminator and EMA: the shipped generator's tensors are taken
    arc_state = load_training_checkpoint(chain / "arc" / "last.pt")["model"]
    assert lmd_main(["model", "export", "--run", str(chain / "arc"), "--name", "arc-last", "--models-dir",
                     str(models), "--checkpoint", "last"]) == 0
    arc, _ = load_dit(models / "arc-last" / "dit.safetensors")
    for key, value in _ema_or_gen(arc_state).items():
        assert torch.equal(arc.state_dict()[key], value), key
    # a checkpoint that is not there, or not a checkpoint, is named in one line
    (run / "best.pt").unlink(missing_ok=True)
    capsys.readouterr()
    assert lmd_main(["model", "export", "--run", str(run), "--name", "x", "--models-dir", str(models),
                     "--checkpoint", "best"]) == 2
    err = capsys.readouterr().err
    assert "best.pt" in err and "no best checkpoint" in err and "Traceback" not in err
    (run / "last.pt").write_bytes(b"not a checkpoint")
    assert lmd_main(["model", "export", "--run", str(run), "--name", "x", "--models-dir", str(models),
                     "--checkpoint", "last"]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "cannot load training checkpoint" in err
    assert lmd_main(["model", "export", "--run", str(tmp_path / "nowhere"), "--name", "x", "--models-dir",
                     str(models), "--checkpoint", "last"]) == 2
    assert "no such run folder" in capsys.readouterr().err
