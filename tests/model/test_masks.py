"""Mask functions against METHOD.md §2.4, transcribed literally (loops, not the vectorised code)."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.model.masks import (
    bidirectional_mask,
    block_causal_mask,
    drop_keys,
    encdec_mask,
    fused_step_mask,
    window_mask,
)

SIZES = [(6, 2), (12, 3), (20, 4), (64, 16), (8, 8)]


def method_encdec(s: int, o: int) -> torch.Tensor:
    n = s + o + 1  # frames 0..T-1, global token at T
    return torch.tensor([[(k < s) or (q >= s) for k in range(n)] for q in range(n)])


def method_block_causal(s: int, o: int) -> torch.Tensor:
    w = s // o

    def blk(i: int) -> int:
        return min(i // o, w)

    n = s + o + 1
    return torch.tensor([[blk(q) - w + 1 <= blk(k) <= blk(q) for k in range(n)] for q in range(n)])


def sliding_definition(n_frames: int, c: int, w: int) -> torch.Tensor:
    """Chunk j attends to chunks j-W+1..j; the global token is part of the last chunk."""
    chunk = [i // c for i in range(n_frames)] + [(n_frames - 1) // c]
    n = n_frames + 1
    return torch.tensor([[chunk[q] - w + 1 <= chunk[k] <= chunk[q] for k in range(n)] for q in range(n)])


@pytest.mark.parametrize(("s", "o"), SIZES)
def test_encdec_matches_method(s: int, o: int) -> None:
    assert torch.equal(encdec_mask(s, o), method_encdec(s, o))
    assert torch.equal(window_mask("encdec", s, o), method_encdec(s, o))


@pytest.mark.parametrize(("s", "o"), SIZES)
def test_block_causal_matches_method(s: int, o: int) -> None:
    assert torch.equal(window_mask("blockcausal", s, o), method_block_causal(s, o))


@pytest.mark.parametrize(("n_frames", "c", "w"), [(12, 2, 2), (12, 3, 3), (30, 5, 4), (16, 4, 1), (40, 4, 10)])
def test_block_causal_sliding_window_for_any_w(n_frames: int, c: int, w: int) -> None:
    assert torch.equal(block_causal_mask(n_frames, c, w), sliding_definition(n_frames, c, w))


@pytest.mark.parametrize(("s", "o"), SIZES)
def test_context_never_sees_global_token_or_targets(s: int, o: int) -> None:
    t = s + o
    for mask in (encdec_mask(s, o), window_mask("blockcausal", s, o)):
        assert not mask[:s, t].any(), "a context query may not see the global token (caching would break)"
        assert not mask[:s, s:t].any(), "a context query may not see the target frames"
        assert mask[s:, t].all(), "targets and the global token see the global token"
        assert mask[t, s:t].all(), "the global token sees every target frame"


def test_target_sees_w_minus_one_cached_chunks() -> None:
    s, o = 24, 4
    w = s // o
    mask = window_mask("blockcausal", s, o)
    seen = mask[s, :s]  # first target frame, over the context frames
    assert int(seen.sum()) == (w - 1) * o
    assert not seen[:o].any(), "the oldest chunk of the window is seen only through deeper layers"


def test_bidirectional_is_all_true() -> None:
    assert bidirectional_mask(5).all() and bidirectional_mask(5).shape == (6, 6)
    assert bidirectional_mask(5, global_token=False).shape == (5, 5)


@pytest.mark.parametrize(("cached", "c", "w"), [(0, 2, 4), (1, 2, 4), (3, 2, 4), (2, 3, 3)])
def test_fused_step_mask_is_rows_of_the_window_mask(cached: int, c: int, w: int) -> None:
    full = sliding_definition((cached + 2) * c, c, w)
    assert torch.equal(fused_step_mask(cached, c, w), full[cached * c:])


def test_drop_keys_hides_dropped_tokens_but_keeps_the_diagonal() -> None:
    mask = window_mask("blockcausal", 8, 2)
    dropped = torch.zeros(11, dtype=torch.bool)
    dropped[:4] = True  # the two oldest chunks: a stream that just started
    out = drop_keys(mask, dropped)
    assert not out[4:, :4].any()
    assert out[torch.arange(11), torch.arange(11)].all()
    assert torch.equal(out[4:, 4:], mask[4:, 4:])
    batched = drop_keys(mask, torch.stack([dropped, torch.zeros_like(dropped)]))
    assert batched.shape == (2, 11, 11) and torch.equal(batched[1], mask)


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="multiple"):
        window_mask("blockcausal", 7, 2)
    with pytest.raises(ValueError, match="unknown"):
        window_mask("diagonal", 4, 2)
    with pytest.raises(ValueError):
        block_causal_mask(8, 2, 0)
