"""The BERT encoder of all-MiniLM-L6-v2 in plain torch, loaded from its safetensors file.

Architecture (from config.json): word + absolute position + token type embeddings, LayerNorm, then
`num_hidden_layers` post-LayerNorm blocks (self-attention, residual, LayerNorm; exact-erf GELU MLP,
residual, LayerNorm). Token type ids are always 0 (one segment); padded keys are masked out of attention.
The pooler and the training-only heads are not needed: the text encoder pools the token states itself.

Weights are rounded to float16 precision on load and computed in float32. The app bundle ships a float16
copy (`write_half_precision_copy`) to halve its size; rounding a float32 checkout the same way makes the
checkout and the app give bit-identical embeddings, so a bug report from either reproduces on the other.
Only safetensors is read, never a pickle.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lmd_studio.core.json_file import read_json_object

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# what a MiniLM folder needs besides the weights: the model sizes, the tokenizer, the sentence pooling
FOLDER_FILES = (CONFIG_FILE, "vocab.txt", "tokenizer_config.json", "1_Pooling/config.json")


@dataclass(frozen=True, slots=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: str | Path) -> BertConfig:
        path = Path(path)
        if not path.is_file():
            raise RuntimeError(f"{path}: missing, the text encoder needs the model's config")
        raw = read_json_object(path)
        # refuse variants this module does not implement rather than compute something subtly different
        wanted = {"hidden_act": "gelu", "position_embedding_type": "absolute"}
        unsupported = {key: raw[key] for key, want in wanted.items() if raw.get(key, want) != want}
        if unsupported:
            raise ValueError(f"{path}: unsupported BERT settings {unsupported}")
        try:
            cfg = cls(int(raw["vocab_size"]), int(raw["hidden_size"]), int(raw["num_hidden_layers"]),
                      int(raw["num_attention_heads"]), int(raw["intermediate_size"]),
                      int(raw["max_position_embeddings"]), int(raw.get("type_vocab_size", 2)),
                      float(raw.get("layer_norm_eps", 1e-12)))
        except KeyError as e:
            raise ValueError(f"{path}: no {e.args[0]!r}, not a BERT config") from None
        if cfg.hidden_size % cfg.num_heads:
            raise ValueError(f"{path}: hidden_size {cfg.hidden_size} is not a multiple of "
                             f"num_attention_heads {cfg.num_heads}")
        return cfg


# our parameter name → the name in a Hugging Face BertModel checkpoint (per layer, under encoder.layer.<i>.)
_LAYER_TENSORS = {
    "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
    "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
    "ffn_in": "intermediate.dense", "ffn_out": "output.dense", "ffn_norm": "output.LayerNorm",
}
_EMBEDDING_TENSORS = {
    "word_embeddings": "embeddings.word_embeddings", "position_embeddings": "embeddings.position_embeddings",
    "token_type_embeddings": "embeddings.token_type_embeddings", "embedding_norm": "embeddings.LayerNorm",
}


def checkpoint_name(ours: str) -> str:
    """The checkpoint's name of our parameter `ours` ("layers.0.query.weight" → "encoder.layer.0....")."""
    module, _, leaf = ours.rpartition(".")
    if module.startswith("layers."):
        _, index, part = module.split(".")
        return f"encoder.layer.{index}.{_LAYER_TENSORS[part]}.{leaf}"
    return f"{_EMBEDDING_TENSORS[module]}.{leaf}"


class _Layer(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        h = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.query, self.key, self.value, self.attn_out = (nn.Linear(h, h) for _ in range(4))
        self.attn_norm = nn.LayerNorm(h, eps=cfg.layer_norm_eps)
        self.ffn_in = nn.Linear(h, cfg.intermediate_size)
        self.ffn_out = nn.Linear(cfg.intermediate_size, h)
        self.ffn_norm = nn.LayerNorm(h, eps=cfg.layer_norm_eps)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, length, h = x.shape
        return x.view(n, length, self.num_heads, h // self.num_heads).transpose(1, 2)  # [n, heads, L, d]

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=key_bias)  # [n, heads, L, d]
        attended = attended.transpose(1, 2).reshape(x.shape)
        x = self.attn_norm(x + self.attn_out(attended))
        return self.ffn_norm(x + self.ffn_out(nn.functional.gelu(self.ffn_in(x))))  # exact erf GELU


class MiniLM(nn.Module):
    """BERT token states: input ids [n, L] and attention mask [n, L] (1 = real token) → [n, L, hidden]."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden_size
        self.word_embeddings = nn.Embedding(cfg.vocab_size, h)
        self.position_embeddings = nn.Embedding(cfg.max_positions, h)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, h)
        self.embedding_norm = nn.LayerNorm(h, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg.num_layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        if length > self.cfg.max_positions:
            raise ValueError(f"{length} tokens, the encoder has {self.cfg.max_positions} positions")
        positions = torch.arange(length, device=input_ids.device)
        # one segment: every token type id is 0
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        x = self.embedding_norm(x + self.token_type_embeddings.weight[0])
        # a large negative added to the scores of padded keys: softmax gives them exactly zero weight.
        # [CLS] is always a real key, so no row is all masked
        real = attention_mask.bool()[:, None, None, :]  # [n, 1, 1, L], broadcast over heads and queries
        key_bias = torch.zeros(real.shape, dtype=x.dtype, device=x.device)
        key_bias = key_bias.masked_fill(~real, torch.finfo(x.dtype).min)
        for layer in self.layers:
            x = layer(x, key_bias)
        return x


def _load_tensors(path: Path, model: MiniLM, round_to_half: bool) -> dict[str, torch.Tensor]:
    """Our state dict from the checkpoint at `path`: every tensor present, of the right shape, float."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise RuntimeError(f"{path}: missing, the text encoder needs the model's weights")
    try:
        stored = load_file(path)
    except SafetensorError as e:
        raise RuntimeError(f"{path}: not a readable safetensors file ({e})") from None
    tensors: dict[str, torch.Tensor] = {}
    problems = []
    for ours, param in model.state_dict().items():
        name = checkpoint_name(ours)
        got = stored.get(name)
        if got is None:
            problems.append(f"tensor {name!r} is missing")
        elif tuple(got.shape) != tuple(param.shape):
            problems.append(f"tensor {name!r} has shape {tuple(got.shape)}, expected {tuple(param.shape)}")
        elif not got.is_floating_point():
            problems.append(f"tensor {name!r} has dtype {got.dtype}, expected a float type")
        else:
            tensors[ours] = got.half().float() if round_to_half else got.float()
            if not torch.isfinite(tensors[ours]).all():  # a float32 value beyond float16's range became inf
                problems.append(f"tensor {name!r} does not fit float16 (or is not finite)")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise RuntimeError(f"{path}: not an all-MiniLM-L6-v2 checkpoint for this config: {shown}")
    return tensors


def load_minilm(folder: str | Path, round_to_half: bool = True) -> MiniLM:
    """The encoder described by `folder`/config.json with the weights of `folder`/model.safetensors.

    The weights may be stored as float32 or float16. `round_to_half=False` keeps float32 weights unrounded;
    only tests comparing against the original model want that.
    """
    folder = Path(folder)
    cfg = BertConfig.from_file(folder / CONFIG_FILE)
    # built on the CPU and randomly initialised (about 0.1 s), then overwritten: the "meta" device would skip
    # the init but costs over a second the first time a process uses it
    model = MiniLM(cfg)
    tensors = _load_tensors(folder / WEIGHTS_FILE, model, round_to_half)
    model.load_state_dict(tensors, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def write_half_precision_copy(src_folder: str | Path, dst_folder: str | Path) -> Path:
    """Write the float16 MiniLM folder the app bundle ships: weights at half the size, same embeddings.

    `dst_folder` gets model.safetensors (only the tensors the encoder reads, as float16) and copies of
    config.json, vocab.txt, tokenizer_config.json and 1_Pooling/config.json. Returns `dst_folder`.
    """
    from safetensors.torch import save_file

    src, dst = Path(src_folder), Path(dst_folder)
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: the float16 copy must go to another folder than its source")
    missing = [name for name in FOLDER_FILES if not (src / name).is_file()]
    if missing:
        raise RuntimeError(f"{src}: not a complete MiniLM folder, missing {missing}")
    model = load_minilm(src)  # checks every tensor, and rounds: half() of the rounded values is exact
    half = {checkpoint_name(name): t.half().contiguous() for name, t in model.state_dict().items()}
    dst.mkdir(parents=True, exist_ok=True)
    for name in FOLDER_FILES:
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / name, dst / name)
    save_file(half, dst / WEIGHTS_FILE, metadata={"format": "pt"})
    return dst
