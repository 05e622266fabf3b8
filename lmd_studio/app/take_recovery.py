"""At start-up, finish the takes a crash left behind in the recordings folder (a background job's work).

engine/recovery.py does the repair (a WAV is readable already, a FLAC is sealed in place, the sidecar gets
`"status": "recovered"` and the real duration); this runs it over the folder, off the GUI thread, and
words what happened for the player. Takes still being written (this session's, or another instance's)
hold a lock and are passed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.engine.recovery import find_unfinished_takes, recover_take
from lmd_studio.engine.sinks import RecordingResult

_NAMES_SHOWN = 3


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    folder: Path
    recovered: tuple[RecordingResult, ...] = ()
    failed: tuple[tuple[Path, str], ...] = ()  # (audio file, why)

    def notices(self) -> list[tuple[str, str, Path | None]]:
        """(level, text, a file in the folder or None) for RecordingDesk's notify; empty when all is well."""
        out: list[tuple[str, str, Path | None]] = []
        if self.recovered:
            n = len(self.recovered)
            names = ", ".join(f"{r.path.name} ({r.duration_s:.1f} s)" for r in self.recovered[:_NAMES_SHOWN])
            more = f" and {n - _NAMES_SHOWN} more" if n > _NAMES_SHOWN else ""
            out.append(("warning", f"Recovered {n} take{'s' if n > 1 else ''} cut off when LMD Studio last "
                                   f"stopped: {names}{more}, in {self.folder}", self.recovered[0].path))
        for path, why in self.failed:
            out.append(("error", f"Could not recover the unfinished take {path.name}: {why}", None))
        return out


def recover_folder(folder: Path, job: BackgroundJob | None = None) -> RecoveryReport:
    """Repair every unfinished take in `folder`; one that cannot be read is reported, not raised."""
    folder = Path(folder)
    if not folder.is_dir():
        return RecoveryReport(folder)
    recovered: list[RecordingResult] = []
    failed: list[tuple[Path, str]] = []
    sidecars = find_unfinished_takes(folder)
    for i, sidecar in enumerate(sidecars):
        if job is not None:
            job.progress(i / len(sidecars), f"repairing {sidecar.name.removesuffix('.json')}")
        try:
            result = recover_take(sidecar)
        except ValueError:
            continue  # finished or removed since it was found: nothing to do
        except (OSError, KeyError, TypeError) as exc:  # a sidecar without the fields recovery needs
            failed.append((sidecar.with_name(sidecar.name.removesuffix(".json")), f"{sidecar}: {exc!r}"))
            continue
        if result.ok:
            recovered.append(result)
        else:
            failed.append((result.path, str(result.error)))
    return RecoveryReport(folder, tuple(recovered), tuple(failed))
