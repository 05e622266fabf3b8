"""`lmd codec eval --compare OLD NEW` on two tiny codecs (v1 and v2), single-codec eval and export of a v2 file."""

import contextlib
import io
import json

import soundfile as sf
import torch

from lmd_studio.cli import main as lmd_main
from lmd_studio.model.codec import load_codec
from lmd_studio.model.codec2 import Codec2, save_codec2
from lmd_studio.model.codec2_net import Codec2Config, Codec2Net
from lmd_studio.training.eval.codec_compare import TARGETS

TINY = dict(encoder_width=32, encoder_blocks=1, decoder_width=32, decoder_blocks=2, frame_width=16)
ARGS = ["--split", "test", "--items", "3", "--seconds", "4", "--threads", "1", "--block", "8"]


def _codec2(path):
    torch.manual_seed(0)
    return save_codec2(path, Codec2Net(Codec2Config(**TINY)))


def _run(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = lmd_main(argv)
    return rc, buf.getvalue()


def test_compare_writes_one_table_json_pictures_and_audio(diffusion_tiny, tmp_path):
    torch.set_num_threads(1)
    new = _codec2(tmp_path / "new.safetensors")
    png, audio, js = tmp_path / "png", tmp_path / "audio", tmp_path / "cmp.json"
    rc, out = _run(["codec", "eval", "--compare", str(diffusion_tiny.codec), str(new), "--corpus",
                    str(diffusion_tiny.corpus), "--png-dir", str(png), "--write-audio", str(audio),
                    "--json-file", str(js), *ARGS])
    assert rc == 0
    for text in ("metric", "old", "new", "oracle", "target", "lsd_db", "decode_cpu_rtf_1thread", "per source kind"):
        assert text in out, text
    res = json.loads(js.read_text())
    assert res["old"]["codec_class"] == "SpectralCodec" and res["new"]["codec_class"] == "Codec2"
    assert res["items"] >= 2 and res["targets"] == TARGETS
    for side in ("old", "new"):
        for key in ("lsd_db", "magnitude_lsd_db", "mel_l1", "mrstft", "encode_cpu_rtf_1thread",
                    "decode_cpu_rtf_1thread"):
            v = res[side][key]
            assert v is not None and v == v and v >= 0, (side, key)
        assert res[side]["stream_offline_max_abs"] <= 1e-5
        assert set(res[side]["per_kind"]) == {r["kind"] for r in res[side]["rows"]}
        assert len(res[side]["rows"]) == res["items"]
    assert res["oracle"]["oracle_lsd_db"] is not None and isinstance(res["new_better_in_every_kind"], bool)
    assert "new_on_old" not in res and "decoding old's latents" not in out  # new has a latent space of its own
    pictures = sorted(png.glob("*.png"))
    kinds = {r["kind"] for r in res["new"]["rows"]}
    assert len(pictures) == len(kinds)  # the first item of each kind here (2 per kind at most)
    flacs = sorted(audio.glob("*.flac"))
    assert len(flacs) == 3 * len(pictures)
    data, sr = sf.read(str(flacs[0]))
    assert sr == 44100 and data.ndim == 1 and len(data) >= 2 * 2048


def test_single_eval_and_export_of_a_v2_codec(diffusion_tiny, tmp_path):
    torch.set_num_threads(1)
    path = _codec2(tmp_path / "codec2.safetensors")
    rc, out = _run(["codec", "eval", "--codec", str(path), "--corpus", str(diffusion_tiny.corpus), "--json", *ARGS])
    assert rc == 0
    res = json.loads(out)
    assert res["codec_class"] == "Codec2" and res["gl_iters"] is None and res["stream_offline_max_abs"] <= 1e-5
    assert res["oracle_lsd_db"] is not None and res["magnitude_lsd_db"] is not None
    release = tmp_path / "release" / "codec.safetensors"
    assert lmd_main(["codec", "export", "--codec", str(path), "--out", str(release)]) == 0
    assert isinstance(load_codec(release), Codec2)
    assert lmd_main(["codec", "export", "--codec", str(path), "--out", str(release), "--gl-iters", "3"]) == 2
    assert lmd_main(["codec", "eval", "--codec", str(path), "--corpus", str(diffusion_tiny.corpus),
                     "--write-audio", str(tmp_path / "a"), *ARGS]) == 2  # needs --compare


def test_a_codec_keeping_olds_latent_space_is_also_judged_on_olds_latents(diffusion_tiny, tmp_path):
    """A codec2 trained with OLD as teacher declares OLD's latent space: the comparison then also decodes OLD's
    latents with NEW (what a DiT trained on them hears), item by item the same as doing it by hand."""
    from lmd_studio.data.corpus import Corpus
    from lmd_studio.training.eval.codec import codec_row, load_item, stream_decode
    from lmd_studio.training.latents import codec_fingerprint

    torch.set_num_threads(1)
    torch.manual_seed(0)
    new_path = save_codec2(tmp_path / "new.safetensors", Codec2Net(Codec2Config(**TINY)),
                           extra={"latent_space": codec_fingerprint(diffusion_tiny.codec)})
    rc, out = _run(["codec", "eval", "--compare", str(diffusion_tiny.codec), str(new_path), "--corpus",
                    str(diffusion_tiny.corpus), "--json-file", str(tmp_path / "cmp.json"), *ARGS])
    assert rc == 0 and "new decoding old's latents" in out
    res = json.loads((tmp_path / "cmp.json").read_text())
    rows = res["new_on_old"]["rows"]
    assert len(rows) == res["items"] and set(res["new_on_old"]["per_kind"]) == {r["kind"] for r in rows}
    old, new = load_codec(diffusion_tiny.codec), load_codec(new_path)
    corpus = Corpus.open(diffusion_tiny.corpus)
    item = next(i for i in corpus.items("test") if i.id == rows[0]["id"])
    x = load_item(corpus, item, new, 4.0)
    by_hand = codec_row(x, new, 8, encoder=old)
    assert by_hand.row["lsd_db"] == rows[0]["lsd_db"]
    assert torch.allclose(torch.from_numpy(by_hand.audio), stream_decode(new, old.encode(x), 8)[0, 0])
    assert rows[0]["lsd_db"] != next(r for r in res["new"]["rows"] if r["id"] == rows[0]["id"])["lsd_db"]
