"""Scene buttons: click to recall (morphing over the scene's time), right-click to save, rename, clear."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from lmd_studio.settings.scenes import Scene

VISIBLE_SCENES = 8  # keys 1–8; MIDI program changes reach all 16


class ScenePanel(QtWidgets.QWidget):
    sig_recall = QtCore.Signal(int)
    """Recall scene N."""
    sig_save = QtCore.Signal(int, str)
    """Save the current mix in scene N under a name."""
    sig_clear = QtCore.Signal(int)
    """Empty scene N."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        label = QtWidgets.QLabel("Scenes")
        label.setObjectName("Dim")
        lay.addWidget(label)
        self.buttons: list[QtWidgets.QPushButton] = []
        self._scenes: tuple[Scene | None, ...] = ()
        for i in range(VISIBLE_SCENES):
            b = QtWidgets.QPushButton(str(i + 1))
            b.setObjectName(f"scene_{i}")
            b.setFixedWidth(38)
            b.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
            b.clicked.connect(lambda _=False, i=i: self._clicked(i))
            b.customContextMenuRequested.connect(lambda pos, i=i: self._menu(i, pos))
            lay.addWidget(b)
            self.buttons.append(b)
        lay.addStretch(1)

    def show_scenes(self, scenes: tuple[Scene | None, ...]) -> None:
        self._scenes = scenes
        for i, b in enumerate(self.buttons):
            s = scenes[i] if i < len(scenes) else None
            if s is None:
                b.setText(str(i + 1))
                b.setToolTip(f"Scene {i + 1} is empty. Ctrl+{i + 1} or right-click saves the current mix here.")
                b.setStyleSheet("color: palette(placeholder-text);")
            else:
                b.setText(f"{i + 1}")
                prompts = ", ".join(p.text for p in s.prompts if p.text and p.enabled) or "no prompt"
                b.setToolTip(f"<b>{i + 1}: {s.name}</b><br>{prompts}<br>morph {s.morph_s:.1f} s "
                             f"(key {i + 1}; right-click to save over, rename or clear)")
                b.setStyleSheet("font-weight: bold;")

    def _clicked(self, i: int) -> None:
        modifiers = QtWidgets.QApplication.keyboardModifiers()
        if modifiers & QtCore.Qt.KeyboardModifier.ControlModifier:
            self.sig_save.emit(i, self._name(i))
        else:
            self.sig_recall.emit(i)

    def _name(self, i: int) -> str:
        s = self._scenes[i] if i < len(self._scenes) else None
        return s.name if s is not None else f"Scene {i + 1}"

    def _menu(self, i: int, pos: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        save = menu.addAction("Save the current mix here")
        rename = menu.addAction("Save as…")
        clear = menu.addAction("Clear")
        clear.setEnabled(i < len(self._scenes) and self._scenes[i] is not None)
        chosen = menu.exec(self.buttons[i].mapToGlobal(pos))
        if chosen is save:
            self.sig_save.emit(i, self._name(i))
        elif chosen is rename:
            name, ok = QtWidgets.QInputDialog.getText(self, "Save scene", f"Name for scene {i + 1}:",
                                                      text=self._name(i))
            if ok and name.strip():
                self.sig_save.emit(i, name.strip())
        elif chosen is clear:
            self.sig_clear.emit(i)
