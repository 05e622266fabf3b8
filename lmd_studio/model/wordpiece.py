"""The BERT uncased WordPiece tokenizer, in plain Python, for the MiniLM text encoder.

It reproduces what `BertTokenizer` (do_lower_case, tokenize_chinese_chars, strip_accents unset) does with
all-MiniLM-L6-v2's vocab.txt, so the app needs neither `transformers` nor `tokenizers`:

1. special tokens typed literally ("[MASK]", case-sensitive) stay whole, as the reference tokenizer does;
2. basic tokenization of the rest: drop NUL, U+FFFD and control characters, turn whitespace into spaces,
   put spaces around CJK ideographs, lower-case, strip accents (NFD, drop the non-spacing marks; lower-casing
   implies it when strip_accents is unset), split on whitespace and on punctuation;
3. WordPiece: greedy longest-match-first pieces, later pieces prefixed "##"; a word with no full match, or
   longer than 100 characters, becomes one [UNK].

Prompts are a few words, so clarity wins over speed here; tokenizing costs microseconds per prompt next to
the milliseconds of the encoder.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from lmd_studio.core.json_file import read_json_object

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
# a longer "word" (a URL, a run of letters) is not worth splitting: BERT maps it to one [UNK]
MAX_WORD_CHARS = 100
CONTINUATION = "##"

# the CJK Unified Ideographs blocks (BERT's definition): Japanese kana and Korean hangul are not in them and
# are split on whitespace like Latin text. The reference (Rust) tokenizer starts Extension E at 0x2B920, not
# 0x2B820: we follow it, since matching the ids the model was trained with is the point
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
_SPECIAL_SPLIT = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


def _is_control(ch: str) -> bool:
    # tab, newline and carriage return are Cc too but count as whitespace. Unassigned code points (Cn) are
    # kept, as the reference tokenizer does: they end up as [UNK]
    return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def _is_punctuation(ch: str) -> bool:
    # ASCII symbols such as "$", "^", "`" are not Unicode punctuation, but BERT splits them off all the same
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _normalise(text: str) -> str:
    """Clean, space out CJK ideographs, lower-case and strip accents."""
    out = []
    for ch in text:
        if ch in "\x00\ufffd" or _is_control(ch):
            continue
        if ch.isspace():
            out.append(" ")
        elif _is_cjk(ch):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    # one character at a time: str.lower() of a whole word turns a final "Σ" into "ς", the reference "σ"
    lowered = "".join(ch.lower() for ch in out)
    return "".join(ch for ch in unicodedata.normalize("NFD", lowered) if unicodedata.category(ch) != "Mn")


def basic_tokens(text: str) -> list[str]:
    """Words and single punctuation marks of `text`, normalised (before WordPiece)."""
    words: list[str] = []
    for chunk in _normalise(text).split():
        start = 0
        for i, ch in enumerate(chunk):
            if _is_punctuation(ch):
                if i > start:
                    words.append(chunk[start:i])
                words.append(ch)
                start = i + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


@dataclass(frozen=True, slots=True)
class TokenBatch:
    """Right-padded token ids and the attention mask (1 = real token), one row per text."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]


class WordPieceTokenizer:
    """Text → BERT token ids with a WordPiece vocabulary (token → id)."""

    def __init__(self, vocab: dict[str, int]) -> None:
        absent = [t for t in SPECIAL_TOKENS if t not in vocab]
        if absent:
            raise ValueError(f"WordPiece vocabulary lacks the special tokens {absent}")
        self.vocab = vocab
        self.pad_id, self.unk_id = vocab[PAD], vocab[UNK]
        self.cls_id, self.sep_id = vocab[CLS], vocab[SEP]

    @classmethod
    def from_folder(cls, folder: str | Path) -> WordPieceTokenizer:
        """Read vocab.txt (one token a line, id = line number) from a BERT model folder."""
        folder = Path(folder)
        vocab_path = folder / "vocab.txt"
        if not vocab_path.is_file():
            raise RuntimeError(f"{vocab_path}: missing, the text encoder needs the WordPiece vocabulary")
        config_path = folder / "tokenizer_config.json"
        if config_path.is_file():
            # only the uncased tokenizer is implemented: refuse a cased vocabulary rather than mangle it
            config = read_json_object(config_path)
            if not config.get("do_lower_case", True) or config.get("strip_accents") is False:
                raise ValueError(f"{config_path}: only an uncased BERT tokenizer (do_lower_case true, "
                                 "accents stripped) is supported")
        lines = vocab_path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the final newline ends the last token, it does not start an empty one
        try:
            return cls({token: i for i, token in enumerate(lines)})
        except ValueError as e:
            raise ValueError(f"{vocab_path}: {e}") from None

    def _word_pieces(self, word: str) -> list[str]:
        if len(word) > MAX_WORD_CHARS:
            return [UNK]
        pieces = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
                if piece in self.vocab:
                    pieces.append(piece)
                    start = end
                    break
            else:  # no piece fits at `start`: the whole word is unknown, not just its tail
                return [UNK]
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of `text`, without [CLS]/[SEP]."""
        tokens: list[str] = []
        for part in _SPECIAL_SPLIT.split(text):
            if part in SPECIAL_TOKENS:
                tokens.append(part)
            else:
                for word in basic_tokens(part):
                    tokens.extend(self._word_pieces(word))
        return tokens

    def encode(self, text: str, max_length: int) -> list[int]:
        """[CLS] ids [SEP], cut to `max_length` ids in all (the cut drops text, never CLS or SEP)."""
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2 (CLS + SEP), got {max_length}")
        ids = [self.vocab[t] for t in self.tokenize(text)][: max_length - 2]
        return [self.cls_id, *ids, self.sep_id]

    def encode_batch(self, texts: list[str], max_length: int) -> TokenBatch:
        """Encode each text and right-pad with [PAD] to the longest one."""
        rows = [self.encode(t, max_length) for t in texts]
        width = max((len(r) for r in rows), default=0)
        ids = [r + [self.pad_id] * (width - len(r)) for r in rows]
        mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
        return TokenBatch(ids, mask)
