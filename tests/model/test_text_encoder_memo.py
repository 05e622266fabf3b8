"""More unique prompts in one call than the encoder's memo holds must still give one embedding each."""

from __future__ import annotations

import torch

from lmd_studio.model.text_encoder import MiniLMTextEncoder


def test_encode_returns_one_embedding_per_text_beyond_the_memo_size() -> None:
    torch.set_num_threads(1)
    enc = MiniLMTextEncoder(memo_size=4)
    texts = [f"prompt number {i}" for i in range(10)] + ["prompt number 3"]
    out = enc.encode(texts)
    assert len(out) == len(texts)
    torch.testing.assert_close(out[3].pooled, out[-1].pooled)
    assert not torch.equal(out[0].pooled, out[1].pooled)
