"""Names for takes and the JSON sidecar written next to each one.

The sidecar `<audio file>.json` says what produced the audio: prompts, parameters, seed, model, start and
end (wall clock in ISO 8601 and output-stream frame positions), sample rate and the timestamped events
(prompt/parameter changes) during the take, plus what went wrong in it: `dropouts` (silence the music
did not contain: engine underruns, stream gaps), `clipping` (samples beyond full scale) and, from the
app, `steps` (the sampling steps the blocks really ran with). It is written when a take starts, so a
crash leaves one behind with `"status": "recording"`, and replaced atomically (temp file + rename) as the
take goes on and when it ends.

A take with the audio input on has two more files beside the mix, `take.input.wav` and
`take.generated.wav` (`track_path`), each with its own sidecar (`"kind": "track"`). The mix's sidecar
names them under `tracks` and says under `alignment` how they line up: frame k of every file is the same
moment, the input's round trip already taken out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SIDECAR_FORMAT = "lmd-take"
SIDECAR_FORMAT_VERSION = 1
# metadata keys that get a top-level field of their own; anything else goes under "extra"
KNOWN_METADATA_KEYS = ("prompts", "parameters", "seed", "model", "tempo", "key", "progression")
TRACK_NAMES = ("input", "generated")  # the files a take with the audio input has beside its mix


def now_iso() -> str:
    """Local wall-clock time with its UTC offset, millisecond resolution."""
    return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


def iso_from_epoch(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s).astimezone().isoformat(timespec="milliseconds")


def default_take_name(fmt: str = "wav", prefix: str = "lmd", when: dt.datetime | None = None) -> str:
    """`lmd-2026-11-24_21-05-33.wav`: sorts by time, no characters any file system rejects."""
    when = when or dt.datetime.now()
    return f"{prefix}-{when:%Y-%m-%d_%H-%M-%S}.{fmt.lower().lstrip('.')}"


def sidecar_path_for(audio_path: Path) -> Path:
    audio_path = Path(audio_path)
    return audio_path.with_name(audio_path.name + ".json")


def track_path(audio_path: Path, track: str) -> Path:
    """`take.wav` → `take.input.wav` (track "input")."""
    audio_path = Path(audio_path)
    return audio_path.with_name(f"{audio_path.stem}.{track}{audio_path.suffix}")


def pick_free_path(folder: Path, name: str, max_tries: int = 10_000, tracks: tuple[str, ...] = ()) -> Path:
    """`folder/name`, or `folder/stem-2.ext`, `-3`, … : the first whose audio file and sidecar are both free
    (and those of its `tracks`, see track_path).

    Only checks; two writers racing for the same second can still collide (the recorder and the retro
    save worker each write one file at a time, so within the app they do not race)."""
    folder = Path(folder)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    for i in range(1, max_tries + 1):
        candidate = folder / (name if i == 1 else f"{stem}-{i}{dot}{ext}")
        files = [candidate, *(track_path(candidate, t) for t in tracks)]
        if not any(f.exists() or sidecar_path_for(f).exists() for f in files):
            return candidate
    raise FileExistsError(f"no free file name like {name!r} in {folder} after {max_tries} tries")


def checked_metadata(metadata: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """A JSON-ready copy of caller metadata; a clear ValueError if it cannot go into the sidecar."""
    data = dict(metadata or {})
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: metadata must be JSON-serialisable (str keys, finite numbers): {exc}") from exc
    return data


def build_sidecar(*, audio_path: Path, fmt: str, sample_rate_hz: int, channels: int,
                  metadata: Mapping[str, Any], status: str, started_at: str | None, ended_at: str | None,
                  start_position_frames: int | None, end_position_frames: int | None, frames_written: int,
                  dropped_frames: int, silence_filled_frames: int, events: list[dict[str, Any]],
                  error: str | None, kind: str, clipped_samples: int = 0,
                  take_stats: Mapping[str, Any] | None = None,
                  fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar's content. `take_stats` is what the app measured around the take (see
    app/take_stats.py): `dropouts` (engine underruns) and `clipping` are merged with the writer's own
    counts, `steps` and anything else are stored as given. `fields`: top-level entries of the writer's own,
    such as a multi-track take's `tracks` and `alignment` (see the module docstring)."""
    stats = dict(take_stats or {})
    engine_dropouts = dict(stats.pop("dropouts", None) or {})
    engine_clipping = dict(stats.pop("clipping", None) or {})
    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_FORMAT_VERSION,
        "kind": kind,  # "take" (Recorder) or "retro" (RetroBuffer.save_last)
        "status": status,  # "recording" | "complete" | "failed"
        "audio_file": Path(audio_path).name,
        "file_format": fmt,
        "subtype": "PCM_24",
        "sample_rate_hz": sample_rate_hz,
        "channels": channels,
        "started_at": started_at,
        "ended_at": ended_at,
        "start_position_frames": start_position_frames,
        "end_position_frames": end_position_frames,
        "frames_written": frames_written,
        "duration_s": frames_written / float(sample_rate_hz),
        "dropped_frames": dropped_frames,  # this writer's queue only; "dropouts" has every cause of silence
        "silence_filled_frames": silence_filled_frames,  # gaps in the stream written as silence
        "dropouts": dropout_summary(sample_rate_hz, dropped_frames, silence_filled_frames, engine_dropouts),
        "clipping": {"clipped_samples_in_file": clipped_samples, **engine_clipping},
        **stats,
        **dict(fields or {}),
        "error": error,
        **{key: metadata.get(key) for key in KNOWN_METADATA_KEYS},
        "extra": {k: v for k, v in metadata.items() if k not in KNOWN_METADATA_KEYS},
        "events": events,
    }


def dropout_summary(sample_rate_hz: int, dropped_frames: int, silence_filled_frames: int,
                    engine: Mapping[str, Any]) -> dict[str, Any]:
    """Silence in the file that the music did not contain, by cause, in frames and seconds.

    - underruns: the playback ring ran dry while playing, so the device played (and the capture recorded)
      zeros; `underrun_frames` is None when nobody measured it (retro saves, recovered takes).
    - silence_filled: gaps in the captured stream (the capture ring or this writer fell behind) that were
      written as silence to keep file positions on the stream's timeline.
    - dropped: of those, the frames this writer's own queue had no room for.
    """
    rate = float(sample_rate_hz)
    underrun_frames = engine.get("underrun_frames")
    total = silence_filled_frames + int(underrun_frames or 0)
    return {
        "total_frames": total,
        "total_s": total / rate,
        "underruns": engine.get("underruns"),  # device callbacks that found the ring short
        "underrun_frames": underrun_frames,
        "underrun_s": None if underrun_frames is None else int(underrun_frames) / rate,
        "silence_filled_frames": silence_filled_frames,
        "silence_filled_s": silence_filled_frames / rate,
        "dropped_frames": dropped_frames,
        "dropped_s": dropped_frames / rate,
        **{k: v for k, v in engine.items() if k not in ("underruns", "underrun_frames")},
    }


def write_sidecar(path: Path, content: Mapping[str, Any]) -> None:
    """Replace `path` atomically: readers see the old or the new file, never half of one.

    On a full disk the temp file cannot be created; then the sidecar is overwritten in place (the old
    one's blocks are freed first, so the new text fits), because a sidecar that records the error is
    worth more than atomicity at that point."""
    path = Path(path)
    text = json.dumps(content, indent=2, allow_nan=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if not path.exists():
            raise
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError:
            raise exc from None


def read_sidecar(path: Path) -> dict[str, Any]:
    """Parse a sidecar; ValueError naming the file if it is not one we wrote."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable take sidecar ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise ValueError(f"{path}: not an LMD take sidecar (format field is missing or wrong)")
    if data.get("format_version", 0) > SIDECAR_FORMAT_VERSION:
        raise ValueError(f"{path}: sidecar format_version {data['format_version']} is newer than this "
                         f"version of LMD Studio understands ({SIDECAR_FORMAT_VERSION})")
    return data
