"""Help → About LMD Studio: the version, the model playing (its card: what it is, its size, jam-trained,
tempo-aware, its data's licences), what it computes on, the audio device, the player's folders with a
button to open each, and the licences of what ships. Everything comes from `session.about.info()` as plain
values (app/about.py); "Copy system summary" puts the same facts on the clipboard as Help → Report a
problem does.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from lmd_studio.app.about import AboutInfo, FolderEntry, compute_absent
from lmd_studio.gui.app_icon import application_icon

UrlOpener = Callable[[QtCore.QUrl], bool]
TAGLINE = "A live generative music instrument: a streaming diffusion model you play with prompts, knobs and MIDI."


def open_folder(path: Path, open_url: UrlOpener = QtGui.QDesktopServices.openUrl) -> str:
    """Show `path` in the file manager, creating it first (the recordings folder appears with the first
    take). Returns "" or what went wrong, for a banner."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"Cannot open {path}: {exc.strerror or exc}"
    if not open_url(QtCore.QUrl.fromLocalFile(str(path))):
        return f"No file manager opened {path}: the path is in the About box to copy"
    return ""


class AboutDialog(QtWidgets.QDialog):
    sig_copy_summary = QtCore.Signal()
    """The player asked for the system summary on the clipboard (the window copies it, as Report a problem)."""

    def __init__(self, info: AboutInfo, open_url: UrlOpener = QtGui.QDesktopServices.openUrl,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About LMD Studio")
        self.setObjectName("AboutDialog")
        self.setMinimumWidth(640)
        self.info = info
        self._open_url = open_url
        self.folder_buttons: dict[str, QtWidgets.QPushButton] = {}
        self.problem = QtWidgets.QLabel("")  # a folder that could not be opened says why here
        self.problem.setObjectName("Dim")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        # the facts scroll, the buttons stay: the whole box is taller than a 768-pixel laptop screen allows
        body = QtWidgets.QWidget()
        body_lay = QtWidgets.QVBoxLayout(body)
        body_lay.setContentsMargins(0, 0, 6, 0)
        body_lay.addLayout(self._title())
        body_lay.addWidget(self._model_box())
        body_lay.addWidget(self._folders_box())
        body_lay.addWidget(self.problem)
        body_lay.addWidget(self._licences_box())
        body_lay.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(scroll, 1)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy system summary", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setToolTip("Copies the facts above as plain text, to paste into a problem report")
        self.copy_button.clicked.connect(self._copy)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._fit(body)

    def _fit(self, body: QtWidgets.QWidget) -> None:
        """As tall as the facts need, up to 90 % of the screen (the rest scrolls)."""
        width = max(self.minimumWidth(), 720)
        # word-wrapped labels need their height at the width they will get, not at their own size hint
        at_width = body.heightForWidth(width - 40)
        wanted = (at_width if at_width > 0 else body.sizeHint().height()) + 70
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        limit = int(screen.availableGeometry().height() * 0.9) if screen is not None else wanted
        self.resize(width, min(wanted, limit))

    # --- sections --------------------------------------------------------------------------------------
    def _title(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        icon = QtWidgets.QLabel()
        pixmap = application_icon().pixmap(64, 64)
        if not pixmap.isNull():
            icon.setPixmap(pixmap)
        row.addWidget(icon, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        text = QtWidgets.QVBoxLayout()
        self.title = QtWidgets.QLabel(f"<b style='font-size:16pt'>LMD Studio {html.escape(self.info.version)}</b>")
        self.title.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        tagline = QtWidgets.QLabel(TAGLINE)
        tagline.setWordWrap(True)
        system = QtWidgets.QLabel(self.info.system)
        system.setObjectName("Dim")
        for w in (self.title, tagline, system):
            text.addWidget(w)
        row.addLayout(text, 1)
        return row

    def _model_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Model and computer")
        lay = QtWidgets.QVBoxLayout(box)
        m = self.info.model
        card = m.card
        rows = [("Model", f"<b>{html.escape(m.label)}</b>" + (" (still loading)" if m.loading else ""))]
        if card is not None:
            rows += [("", html.escape(card.description or "No description (the folder has no model card)")),
                     ("", html.escape(card.facts())),
                     ("Training data", html.escape(card.licences_text()))]
        rows += [("Computes on", html.escape(m.compute.summary() if m.compute else compute_absent(m))),
                 ("Audio", html.escape(self.info.audio))]
        # one label, not one per row: word-wrapped labels in a form get their heights wrong and gape
        self.model_text = QtWidgets.QLabel("<table cellspacing='3'>" + "".join(
            f"<tr><td style='padding-right:10px'>{title}</td><td>{value}</td></tr>" for title, value in rows)
            + "</table>")
        self.model_text.setWordWrap(True)
        self.model_text.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.model_text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.model_text)
        if card is not None and card.card_file is not None:
            button = QtWidgets.QPushButton("Open the model card")
            button.setObjectName("open_model_card")
            card_file = card.card_file
            button.clicked.connect(lambda: self._open_url(QtCore.QUrl.fromLocalFile(str(card_file))))
            lay.addWidget(button, 0, QtCore.Qt.AlignmentFlag.AlignLeft)
        return box

    def _folders_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Your folders")
        grid = QtWidgets.QGridLayout(box)
        grid.setColumnStretch(1, 1)
        for row, entry in enumerate(self.info.folders):
            name = QtWidgets.QLabel(entry.label)
            name.setToolTip(entry.what)
            path = QtWidgets.QLabel(str(entry.path))
            path.setToolTip(entry.what)
            path.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
            path.setWordWrap(True)
            button = QtWidgets.QPushButton("Open folder")
            button.setToolTip(f"Show {entry.path} in the file manager")
            button.clicked.connect(lambda _=False, e=entry: self.open_entry(e))
            self.folder_buttons[entry.label] = button
            grid.addWidget(name, row, 0)
            grid.addWidget(path, row, 1)
            grid.addWidget(button, row, 2)
        return box

    def _licences_box(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Licences")
        lay = QtWidgets.QVBoxLayout(box)
        shipped = "".join(f"<li><b>{html.escape(e.name)}</b>: {html.escape(e.licence or 'not recorded')}"
                          + (f" — {html.escape(e.note)}" if e.note else "") + "</li>" for e in self.info.shipped)
        self.shipped = QtWidgets.QLabel(f"<ul style='margin-left:-20px'>{shipped}</ul>")
        self.shipped.setWordWrap(True)
        self.shipped.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.link_note = QtWidgets.QLabel(html.escape(self.info.link_note))
        self.link_note.setWordWrap(True)
        self.third_party = QtWidgets.QPlainTextEdit()
        self.third_party.setObjectName("third_party")
        self.third_party.setReadOnly(True)
        self.third_party.setMaximumHeight(110)
        self.third_party.setPlainText("\n".join(
            f"{e.name} {e.version}".strip() + f" — {e.licence or 'licence not recorded in this install'}"
            for e in self.info.third_party) or "The package list is not recorded in this install.")
        lay.addWidget(self.shipped)
        lay.addWidget(self.link_note)
        third = QtWidgets.QLabel("Third-party packages LMD Studio runs on:")
        third.setObjectName("Dim")
        lay.addWidget(third)
        lay.addWidget(self.third_party, 1)
        return box

    # --- actions -----------------------------------------------------------------------------------------
    def _copy(self) -> None:
        self.sig_copy_summary.emit()
        self.copy_button.setText("Copied to the clipboard")

    def open_entry(self, entry: FolderEntry) -> None:
        problem = open_folder(entry.path, self._open_url)
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
