"""Per-file licences from a Debian package's /usr/share/doc/<package>/copyright.

Machine-readable files (DEP-5, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
list `Files:` patterns with a `License:` each; the last paragraph whose pattern matches a file decides its
licence (DEP-5 §6.3, `*` matching any characters including `/`). Free-form files (older packages) state one
licence in prose: the caller checks that the prose says what it expects (`mentions`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

DEP5_FORMAT = re.compile(r"^Format:\s*\S*copyright-format", re.I | re.M)


@dataclass(frozen=True, slots=True)
class FilesParagraph:
    patterns: tuple[str, ...]
    licence: str  # the short name on the License: line ("CC-BY-SA-3.0", "GPL-2+", ...)
    copyright: str


@dataclass(frozen=True, slots=True)
class CopyrightFile:
    text: str
    paragraphs: tuple[FilesParagraph, ...]  # empty for a free-form file

    @property
    def machine_readable(self) -> bool:
        return bool(self.paragraphs)

    def licence_of(self, rel_path: str) -> FilesParagraph | None:
        """The paragraph that decides `rel_path` (relative to the source tree root), or None."""
        found = None
        for para in self.paragraphs:
            if any(fnmatch.fnmatchcase(rel_path, pat) for pat in para.patterns):
                found = para
        return found

    def mentions(self, pattern: str) -> bool:
        """Whether the text matches a regular expression (whitespace-insensitive, case-insensitive)."""
        return re.search(pattern, re.sub(r"\s+", " ", self.text), re.I) is not None


def _fields(paragraph: str) -> dict[str, str]:
    out: dict[str, str] = {}
    key = None
    for line in paragraph.splitlines():
        if line[:1] in (" ", "\t") and key:
            out[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            out[key] = value.strip()
    return out


def parse_copyright(text: str) -> CopyrightFile:
    if not DEP5_FORMAT.search(text):
        return CopyrightFile(text, ())
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        f = _fields(block)
        if "files" in f and "license" in f:
            patterns = tuple(f["files"].split())
            licence = f["license"].splitlines()[0].strip()
            paragraphs.append(FilesParagraph(patterns, licence, f.get("copyright", "").replace("\n", "; ")))
    return CopyrightFile(text, tuple(paragraphs))


def read_copyright(doc_dir: Path, package: str) -> CopyrightFile | None:
    """The package's copyright file under `doc_dir` (normally /usr/share/doc), or None if absent."""
    path = Path(doc_dir) / package / "copyright"
    try:
        return parse_copyright(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
