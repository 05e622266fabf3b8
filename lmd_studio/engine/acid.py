"""The ACID chunk: the loop metadata samplers and DAWs read from a WAV (tempo, length in beats, meter).

Layout (RIFF chunk id "acid", 24 bytes of data, little-endian; the de-facto format Sony ACID defined and
DAWs, samplers and libsndfile's readers follow):
    uint32 flags        bit 0 one-shot, bit 1 root note set, bit 2 stretch, bit 3 disk-based, bit 4 "high octave"
    uint16 root note    MIDI note (meaningful with bit 1)
    uint16 reserved     0x8000 by convention
    float  reserved     0
    uint32 beats        the loop's length in beats
    uint16 meter denominator
    uint16 meter numerator
    float  tempo        bpm
A loop is written with "stretch" set and one-shot clear, so a DAW treats it as a tempo-following loop.

`append_acid_chunk` adds the chunk to a finished WAV (after its data chunk) and fixes the RIFF size; a RIFF
reader skips chunks it does not know, so every player still opens the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

FLAG_ONE_SHOT = 0x01
FLAG_ROOT_NOTE = 0x02
FLAG_STRETCH = 0x04
_LAYOUT = "<IHHfIHHf"  # 24 bytes


@dataclass(frozen=True, slots=True)
class AcidInfo:
    beats: int
    bpm: float
    meter_numerator: int = 4
    meter_denominator: int = 4
    root_note: int | None = None  # MIDI note of the loop's key, when known

    def __post_init__(self) -> None:
        if self.beats < 1 or not 20.0 <= self.bpm <= 400.0:
            raise ValueError(f"an ACID loop needs beats >= 1 and 20–400 bpm, got {self.beats}, {self.bpm}")
        if self.root_note is not None and not 0 <= self.root_note <= 127:
            raise ValueError(f"root_note must be a MIDI note, got {self.root_note}")

    def chunk(self) -> bytes:
        """The whole chunk: id, size, data."""
        flags = FLAG_STRETCH | (FLAG_ROOT_NOTE if self.root_note is not None else 0)
        data = struct.pack(_LAYOUT, flags, self.root_note or 0, 0x8000, 0.0, self.beats,
                           self.meter_denominator, self.meter_numerator, float(self.bpm))
        return b"acid" + struct.pack("<I", len(data)) + data


def append_acid_chunk(wav: Path, info: AcidInfo) -> None:
    """Add `info` as an "acid" chunk at the end of the WAV file `wav` and update its RIFF size."""
    with open(wav, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{wav}: not a RIFF/WAVE file")
        f.seek(0, 2)
        end = f.tell()
        if end % 2:  # RIFF chunks start on even offsets
            f.write(b"\0")
            end += 1
        f.write(info.chunk())
        riff_size = f.tell() - 8
        f.seek(4)
        f.write(struct.pack("<I", riff_size))
