"""Finishing takes that a crash left behind (run at start-up, before any recording starts).

A take's sidecar says `"status": "recording"` until its writer finishes, so a sidecar that still says so
when the app starts belongs to a process that died. Its WAV is already readable (the header is updated at
every flush); a FLAC is sealed in place. The sidecar is then rewritten with what the file really holds and
`"status": "recovered"`. A take whose writer is alive holds a lock on its audio file (take_lock.py), and
`find_unfinished_takes` passes over it; where locks do not exist (Windows), do not run this on a folder
another running instance is recording into.
"""

from __future__ import annotations

from pathlib import Path

from lmd_studio.engine.audio_file import AudioFileError
from lmd_studio.engine.flac_repair import salvage
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.engine.take_files import now_iso, read_sidecar, write_sidecar
from lmd_studio.engine.take_lock import in_use


def find_unfinished_takes(folder: Path) -> list[Path]:
    """Sidecars under `folder` (not recursive) whose take never finished and whose writer is gone (not
    holding the take's lock), oldest name first."""
    found = []
    for sidecar in sorted(Path(folder).glob("*.json")):
        try:
            side = read_sidecar(sidecar)
        except ValueError:
            continue  # some other JSON file in the folder: not ours
        if side.get("status") == "recording" and not in_use(sidecar.with_name(str(side.get("audio_file")))):
            found.append(sidecar)
    return found


def recover_take(sidecar_path: Path) -> RecordingResult:
    """Make an interrupted take readable and its sidecar truthful. I/O problems come back as the error."""
    sidecar_path = Path(sidecar_path)
    side = read_sidecar(sidecar_path)
    if side.get("status") != "recording":
        raise ValueError(f"{sidecar_path}: the take's status is {side.get('status')!r}; nothing to recover")
    audio = sidecar_path.with_name(str(side["audio_file"]))
    sample_rate_hz = int(side["sample_rate_hz"])
    error = None
    try:
        frames = salvage(audio, str(side["file_format"]))
    except AudioFileError as exc:
        frames, error = 0, str(exc)
    start = side.get("start_position_frames")
    side.update(
        status="failed" if error else "recovered",
        frames_written=frames,
        duration_s=frames / float(sample_rate_hz),
        end_position_frames=None if start is None else int(start) + frames,
        error=error,
        interrupted=True,  # the writer never finished: the take ends where the process died
        recovered_at=now_iso(),
    )
    try:
        write_sidecar(sidecar_path, side)
    except OSError as exc:
        error = f"{error + '; ' if error else ''}cannot rewrite {sidecar_path}: {exc.strerror or exc}"
    return RecordingResult(path=audio, sidecar_path=sidecar_path, frames_written=frames,
                           sample_rate_hz=sample_rate_hz, error=error)
