"""A 24-bit WAV/FLAC writer that leaves a readable file behind if the process dies mid-take.

What libsndfile 1.2 does (checked by tests/engine/test_recorder_files.py):
- Sample data goes straight to the kernel with write(2): libsndfile keeps no user-space buffer for PCM, so
  a SIGKILL loses nothing that `write` returned for.
- The WAV header's RIFF and data sizes stay 0 until close. `SoundFile.flush()` (sf_write_sync) only calls
  fsync; it does NOT update them. libsndfile itself reads such a file by guessing from the file length,
  but other readers (Python's `wave`, many editors) see an empty file. `sf_command(SFC_UPDATE_HEADER_NOW)`
  rewrites the header in place; `flush()` here does that, so a killed take is a well-formed WAV holding
  everything up to the last flush.
- FLAC: libFLAC writes each encoded frame (4096 frames at the default level) as soon as it is complete,
  but STREAMINFO (total length, MD5) is only written at close. A killed FLAC take therefore has an
  "unknown length" header: streaming decoders play it, but soundfile refuses to read it. It cannot be
  made crash-safe through soundfile, so WAV is the default format; `flac_repair.repair_truncated_flac`
  seals such a file in place afterwards (losing only the frame libFLAC was still filling, < 0.1 s).
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

# (libsndfile major format, subtype) per user-facing format name
FORMATS: dict[str, tuple[str, str]] = {"wav": ("WAV", "PCM_24"), "flac": ("FLAC", "PCM_24")}
DEFAULT_FORMAT = "wav"

_SFC_UPDATE_HEADER_NOW = 0x1060  # sndfile.h; soundfile's cffi declarations leave this command out
_WAV_MAX_BYTES = 0xFFFFFFFF - 4096  # RIFF sizes are 32-bit; keep room for the header
_BYTES_PER_SAMPLE = 3  # PCM_24
_UNKNOWN_LENGTH = 2**62  # libsndfile reports SF_COUNT_MAX (2**63 - 1) frames when the header has no length

_REASONS = {
    errno.ENOSPC: "disk full (no space left on device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the folder is on a read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a component of the folder path is a file, not a folder",
    errno.EEXIST: "a file is in the way where a folder should be",
    errno.EISDIR: "the path is a folder, not a file name",
    errno.ENOENT: "the folder does not exist and could not be created",
    errno.EIO: "input/output error (failing or removed disk?)",
}


class AudioFileError(Exception):
    """Writing an audio file failed; the message names the file and the reason."""


def describe_os_error(exc: OSError) -> str:
    return _REASONS.get(exc.errno or 0, exc.strerror or str(exc))


def check_format(fmt: str) -> str:
    key = fmt.lower().lstrip(".")
    if key not in FORMATS:
        raise ValueError(f"unsupported recording format {fmt!r}; choose one of {sorted(FORMATS)}")
    return key


class AudioFileWriter:
    """Owns one open audio file. Not thread-safe: one writer thread uses it from open to close."""

    def __init__(self, path: Path, sample_rate_hz: int, channels: int, fmt: str = DEFAULT_FORMAT,
                 overwrite: bool = False) -> None:
        self.fmt = check_format(fmt)
        if sample_rate_hz <= 0 or channels <= 0:
            raise ValueError(f"{path}: sample_rate_hz and channels must be > 0, got {sample_rate_hz}, {channels}")
        self.path = Path(path)
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = int(channels)
        self.frames_written = 0
        major, subtype = FORMATS[self.fmt]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AudioFileError(f"cannot create the folder for {self.path}: {describe_os_error(exc)}") from exc
        if self.path.is_dir():
            raise AudioFileError(f"cannot create {self.path}: {_REASONS[errno.EISDIR]}")
        try:
            # Open once with the OS first: libsndfile reports every failure as "System error", this gives
            # the errno (read-only, full, not a folder) for the message. O_EXCL: a take never silently
            # replaces an earlier one (take_files.pick_free_path finds a free name).
            exclusive = 0 if overwrite else os.O_EXCL
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | exclusive, 0o644))
        except FileExistsError as exc:
            raise AudioFileError(f"{self.path} already exists; not overwriting an earlier recording") from exc
        except OSError as exc:
            raise AudioFileError(f"cannot create {self.path}: {describe_os_error(exc)}") from exc
        try:
            self._sf: sf.SoundFile | None = sf.SoundFile(
                self.path, "w", self.sample_rate_hz, self.channels, subtype=subtype, format=major)
        except (sf.LibsndfileError, OSError) as exc:
            raise AudioFileError(f"cannot open {self.path} for writing: {exc}") from exc

    def write(self, frames: np.ndarray) -> None:
        """Append float32 [frames, channels]; values outside [-1, 1] are clipped (soundfile enables it)."""
        f = self._require_open()
        if self.fmt == "wav":
            new_bytes = (self.frames_written + len(frames)) * self.channels * _BYTES_PER_SAMPLE
            if new_bytes > _WAV_MAX_BYTES:
                raise AudioFileError(
                    f"{self.path}: WAV files cannot exceed 4 GiB (reached after "
                    f"{self.frames_written / self.sample_rate_hz / 3600:.1f} h); use FLAC for longer takes")
        try:
            f.write(np.ascontiguousarray(frames, dtype=np.float32))
        except (sf.LibsndfileError, OSError) as exc:
            raise AudioFileError(f"writing {self.path} failed: {self._reason(exc)}") from exc
        self.frames_written += len(frames)

    def flush(self, fsync: bool = False) -> None:
        """Make what was written so far readable after a crash (WAV: header sizes updated in place).

        `fsync` additionally asks the kernel to put it on the disk (survives power loss, costs a few ms)."""
        f = self._require_open()
        if self.fmt == "wav":
            status = sf._snd.sf_command(f._file, _SFC_UPDATE_HEADER_NOW, sf._ffi.NULL, 0)
            if status != 0 or f._errorcode != 0:
                raise AudioFileError(f"updating the header of {self.path} failed: {self._reason(None)}")
        if fsync:
            try:
                f.flush()  # sf_write_sync: fsync(2) on the file
            except (sf.LibsndfileError, OSError) as exc:
                raise AudioFileError(f"syncing {self.path} failed: {self._reason(exc)}") from exc

    def close(self) -> None:
        """Finish the file (final header / STREAMINFO). Safe to call twice or after a failed write."""
        f, self._sf = self._sf, None
        if f is None:
            return
        try:
            f.close()
        except (sf.LibsndfileError, OSError) as exc:
            raise AudioFileError(f"finishing {self.path} failed: {self._reason(exc)}") from exc

    @property
    def closed(self) -> bool:
        return self._sf is None

    def _require_open(self) -> sf.SoundFile:
        if self._sf is None:
            raise AudioFileError(f"{self.path} is already closed")
        return self._sf

    def _reason(self, exc: BaseException | None) -> str:
        if isinstance(exc, OSError) and exc.errno:
            return describe_os_error(exc)
        # libsndfile's per-file message carries strerror(errno) ("System error : No space left on device.")
        text = ""
        if self._sf is not None:
            text = sf._ffi.string(sf._snd.sf_strerror(self._sf._file)).decode("utf-8", "replace")
        for code, reason in _REASONS.items():
            if os.strerror(code) in text:
                return reason
        return text or str(exc)


def readable_frames(path: Path) -> int:
    """Frames a standard reader finds in `path` (raises AudioFileError when it cannot be read)."""
    try:
        frames = int(sf.info(str(path)).frames)
    except (sf.LibsndfileError, OSError, RuntimeError) as exc:
        raise AudioFileError(f"{path} is not a readable audio file: {exc}") from exc
    if frames >= _UNKNOWN_LENGTH:  # libsndfile's SF_COUNT_MAX: a FLAC stream whose writer never finished
        raise AudioFileError(f"{path} is an unfinished FLAC stream (length unknown); "
                             f"repair_truncated_flac() makes it readable")
    return frames



def create_temp_beside(path: Path) -> Path:
    """A new, empty hidden file next to `path` (same file system, so the final rename is atomic)."""
    if path.is_dir():
        raise AudioFileError(f"cannot write {path}: the path is a folder, not a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioFileError(f"cannot create the folder for {path}: {describe_os_error(exc)}") from exc
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError as exc:
        raise AudioFileError(f"cannot write {path}: {describe_os_error(exc)}") from exc
    return tmp


def write_whole_file(path: Path, frames: np.ndarray, sample_rate_hz: int, fmt: str,
                     finish: Callable[[Path], None] | None = None) -> None:
    """Write `frames` [n, channels] to `path` all at once: into a hidden file beside it, `finish` run on that
    finished file (e.g. to add a chunk), then renamed over `path` — a failure leaves `path` as it was and
    no partial file behind. Raises AudioFileError naming `path`."""
    tmp = create_temp_beside(Path(path))
    try:
        writer = AudioFileWriter(tmp, sample_rate_hz, frames.shape[1], fmt, overwrite=True)
        try:
            writer.write(frames)
        finally:
            writer.close()
        if finish is not None:
            finish(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise AudioFileError(f"cannot write {path}: {describe_os_error(exc)}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
