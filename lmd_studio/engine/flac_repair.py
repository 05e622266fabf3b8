"""Sealing a FLAC file whose writer died before writing its length (crash, full disk).

libFLAC writes every finished frame at once but fills in STREAMINFO's total-samples field only at close;
0 means "unknown", which soundfile cannot read. Repair happens in place, so it also works on the full disk
that caused the failure: decode sequentially with libsndfile to count the samples in whole frames, write
that count into STREAMINFO, and cut off the partial frame at the end (found by its frame header: sync code,
the expected frame number and a matching CRC-8). The audio bytes are never rewritten, so every kept sample
is exactly what was encoded. The MD5 field stays zero, which the format defines as "not computed".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from lmd_studio.engine.audio_file import AudioFileError, readable_frames

_STREAMINFO_AT = 8  # after "fLaC" and the 4-byte metadata block header
_TOTAL_SAMPLES_AT = _STREAMINFO_AT + 13  # the 36-bit field is the low 36 bits of these 5 bytes
_TAIL_SCAN_BYTES = 1 << 20  # a frame of 4096 stereo 24-bit samples is < 30 KB; scan generously


def repair_truncated_flac(path: Path, chunk_frames: int = 65536) -> int:
    """Make an unfinished FLAC readable; returns the frames it holds. A finished FLAC is left as it is."""
    path = Path(path)
    head = _read_head(path)
    block_frames = int.from_bytes(head[_STREAMINFO_AT + 2:_STREAMINFO_AT + 4], "big")  # max block size
    if int.from_bytes(head[_TOTAL_SAMPLES_AT:_TOTAL_SAMPLES_AT + 5], "big") & ((1 << 36) - 1):
        return int(sf.info(str(path)).frames)  # the writer finished: nothing to repair
    frames = _decodable_frames(path, chunk_frames)
    with open(path, "r+b") as f:
        f.seek(_TOTAL_SAMPLES_AT)
        packed = int.from_bytes(f.read(5), "big")  # [4 bits of bps | 36 bits total]
        packed = (packed & ~((1 << 36) - 1)) | frames
        f.seek(_TOTAL_SAMPLES_AT)
        f.write(packed.to_bytes(5, "big"))
        if block_frames and frames % block_frames == 0:
            cut = _partial_frame_offset(f, frames // block_frames)
            if cut is not None:
                f.truncate(cut)
    return frames


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(_STREAMINFO_AT + 34)
    except OSError as exc:
        raise AudioFileError(f"{path} cannot be repaired: {exc.strerror or exc}") from exc
    if len(head) < _STREAMINFO_AT + 34 or head[:4] != b"fLaC":
        raise AudioFileError(f"{path} cannot be repaired: it does not start with a FLAC header")
    if head[4] & 0x7F != 0 or int.from_bytes(head[5:8], "big") != 34:
        raise AudioFileError(f"{path} cannot be repaired: its first metadata block is not STREAMINFO")
    return head


def _decodable_frames(path: Path, chunk_frames: int) -> int:
    """Frames libsndfile decodes before the data ends or breaks off (sequential reads: soundfile's
    read() seeks around every call, and seeking fails on a stream of unknown length)."""
    try:
        src = sf.SoundFile(str(path))
    except (sf.LibsndfileError, OSError) as exc:
        raise AudioFileError(f"{path} cannot be repaired: libsndfile cannot open it ({exc})") from exc
    try:
        buf = np.empty((chunk_frames, src.channels), dtype=np.float32)  # [T, C]
        ptr = sf._ffi.cast("float *", buf.ctypes.data)
        total = 0
        while (n := int(sf._snd.sf_readf_float(src._file, ptr, chunk_frames))) > 0:
            total += n
        return total
    finally:
        src.close()


def _partial_frame_offset(f: BinaryIO, frame_number: int) -> int | None:
    """Byte offset of the header of frame `frame_number` (the one that did not decode), if present."""
    size = f.seek(0, os.SEEK_END)
    start = max(0, size - _TAIL_SCAN_BYTES)
    f.seek(start)
    tail = f.read()
    at = len(tail)
    while (at := tail.rfind(b"\xff\xf8", 0, at)) >= 0:  # fixed-blocksize frame sync, scanning backwards
        if _is_frame_header(tail, at, frame_number):
            return start + at
    return None


def _is_frame_header(buf: bytes, at: int, frame_number: int) -> bool:
    if at + 6 > len(buf):
        return False
    bs_code, sr_code = buf[at + 2] >> 4, buf[at + 2] & 0x0F
    if bs_code == 0 or sr_code == 15 or buf[at + 3] & 0x01:
        return False
    i, number = _utf8_number(buf, at + 4)
    if number != frame_number:
        return False
    i += {6: 1, 7: 2}.get(bs_code, 0) + {12: 1, 13: 2, 14: 2}.get(sr_code, 0)
    return i < len(buf) and _crc8(buf[at:i]) == buf[i]


def _utf8_number(buf: bytes, i: int) -> tuple[int, int | None]:
    """FLAC codes frame numbers like UTF-8 (up to 7 bytes); returns (index after it, value or None)."""
    first = buf[i]
    if first < 0x80:
        return i + 1, first
    n_extra = next((k for k in range(8) if not first & (0x80 >> k)), 8) - 1  # leading 1 bits, minus one
    if not 1 <= n_extra <= 6:
        return i + 1, None  # 10xxxxxx or 0xFF cannot start a number
    value = first & (0x7F >> (n_extra + 1))
    for k in range(1, n_extra + 1):
        if i + k >= len(buf) or buf[i + k] & 0xC0 != 0x80:
            return i + k, None
        value = (value << 6) | (buf[i + k] & 0x3F)
    return i + n_extra + 1, value


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:  # polynomial x^8 + x^2 + x + 1, as the FLAC frame header uses
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def salvage(path: Path, fmt: str) -> int:
    """After a failed write: make the file readable if it can be (FLAC: seal it) and return the frames a
    reader finds. Raises AudioFileError when nothing readable is left."""
    if fmt == "flac":
        repair_truncated_flac(path)
    return readable_frames(path)
