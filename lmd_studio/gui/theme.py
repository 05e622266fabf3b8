"""Dark, stage-friendly themes: a Fusion palette plus a small stylesheet, and the colours plots use.

"dark" is for the studio; "stage" is darker, with larger type and stronger contrast, for a dim room.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtGui, QtWidgets


@dataclass(frozen=True, slots=True)
class Colors:
    window: str
    panel: str
    raised: str
    border: str
    text: str
    dim_text: str
    accent: str  # playhead, active things
    ahead: str  # audio generated ahead of the playhead
    played: str  # waveform already played
    context: str  # the model's context window shading (with alpha)
    record: str
    warn: str
    ok: str
    danger: str
    marker: str
    font_pt: int


THEMES: dict[str, Colors] = {
    "dark": Colors(window="#14161b", panel="#1c1f26", raised="#262a33", border="#333845", text="#e8eaf0",
                   dim_text="#9aa1b2", accent="#2fd3a7", ahead="#4aa3ff", played="#8fd9c4",
                   context="#8a6cff", record="#ff4d5e", warn="#ffb340", ok="#4fd67a", danger="#ff4d5e",
                   marker="#ffd166", font_pt=10),
    "stage": Colors(window="#000000", panel="#0b0c10", raised="#181b22", border="#3a4050", text="#ffffff",
                    dim_text="#b8bfce", accent="#38ffc4", ahead="#5cb2ff", played="#b6ffe9",
                    context="#a58cff", record="#ff3347", warn="#ffc24d", ok="#5dff8e", danger="#ff3347",
                    marker="#ffe08a", font_pt=12),
}


def colors(name: str) -> Colors:
    return THEMES.get(name, THEMES["dark"])


def apply_theme(app: QtWidgets.QApplication, name: str) -> Colors:
    c = colors(name)
    app.setStyle("Fusion")
    pal = QtGui.QPalette()
    role = QtGui.QPalette.ColorRole
    for r, value in ((role.Window, c.window), (role.Base, c.panel), (role.AlternateBase, c.raised),
                     (role.Button, c.raised), (role.Text, c.text), (role.WindowText, c.text),
                     (role.ButtonText, c.text), (role.ToolTipBase, c.raised), (role.ToolTipText, c.text),
                     (role.Highlight, c.accent), (role.HighlightedText, c.window), (role.Link, c.ahead),
                     (role.PlaceholderText, c.dim_text), (role.Mid, c.border), (role.Dark, c.window)):
        pal.setColor(r, QtGui.QColor(value))
    disabled = QtGui.QPalette.ColorGroup.Disabled
    for r in (role.Text, role.WindowText, role.ButtonText):
        pal.setColor(disabled, r, QtGui.QColor(c.dim_text).darker(140))
    app.setPalette(pal)
    font = app.font()
    font.setPointSize(c.font_pt)
    app.setFont(font)
    app.setStyleSheet(_stylesheet(c))
    return c


def _stylesheet(c: Colors) -> str:
    return f"""
    QWidget {{ color: {c.text}; }}
    QMainWindow, QDialog {{ background: {c.window}; }}
    QFrame#Panel {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 8px; }}
    QLabel#PanelTitle {{ color: {c.dim_text}; font-weight: bold; letter-spacing: 1px; }}
    QLabel#Dim {{ color: {c.dim_text}; }}
    QLabel#Countdown {{ color: {c.warn}; font-weight: bold; }}
    QLabel#Heard {{ color: {c.ok}; font-weight: bold; }}
    QLabel#Warning {{ color: {c.window}; background: {c.warn}; border-radius: 4px; padding: 2px 8px;
                      font-weight: bold; }}
    QLabel#Hint {{ color: {c.dim_text}; font-size: {c.font_pt + 4}pt; }}
    QPushButton, QToolButton {{ background: {c.raised}; border: 1px solid {c.border}; border-radius: 6px;
                                padding: 5px 10px; }}
    QPushButton:hover, QToolButton:hover {{ border-color: {c.accent}; }}
    QPushButton:focus, QToolButton:focus, QComboBox:focus, QLineEdit:focus, QDial:focus, QSlider:focus,
    QCheckBox:focus, QSpinBox:focus, QDoubleSpinBox:focus {{ border: 1px solid {c.accent}; }}
    QPushButton:checked, QToolButton:checked {{ background: {c.accent}; color: {c.window}; }}
    QPushButton:disabled, QToolButton:disabled {{ color: {c.dim_text}; background: {c.panel}; }}
    QPushButton#Play {{ font-weight: bold; min-width: 84px; }}
    QPushButton#Play:checked {{ background: {c.accent}; color: {c.window}; }}
    QPushButton#Record:checked {{ background: {c.record}; color: white; border-color: {c.record}; }}
    QPushButton#Panic {{ color: {c.danger}; border-color: {c.danger}; font-weight: bold; }}
    QLineEdit, QComboBox, QSpinBox, QDoubleSpinBox {{ background: {c.window}; border: 1px solid {c.border};
                                                     border-radius: 5px; padding: 4px 6px; }}
    QComboBox QAbstractItemView {{ background: {c.panel}; selection-background-color: {c.accent};
                                   selection-color: {c.window}; }}
    QSlider::groove:horizontal {{ height: 6px; background: {c.window}; border-radius: 3px; }}
    QSlider::sub-page:horizontal {{ background: {c.accent}; border-radius: 3px; }}
    QSlider::handle:horizontal {{ background: {c.text}; width: 14px; margin: -5px 0; border-radius: 7px; }}
    QSlider::groove:vertical {{ width: 6px; background: {c.window}; border-radius: 3px; }}
    QSlider::add-page:vertical {{ background: {c.accent}; border-radius: 3px; }}
    QSlider::handle:vertical {{ background: {c.text}; height: 14px; margin: 0 -5px; border-radius: 7px; }}
    QSlider:disabled::sub-page:horizontal {{ background: {c.border}; }}
    QCheckBox::indicator {{ width: 15px; height: 15px; border: 1px solid {c.dim_text}; border-radius: 3px;
                            background: {c.window}; }}
    QCheckBox::indicator:checked {{ background: {c.accent}; border-color: {c.accent}; }}
    QCheckBox::indicator:disabled {{ border-color: {c.border}; }}
    QListWidget::indicator {{ width: 15px; height: 15px; }}
    QProgressBar {{ background: {c.window}; border: 1px solid {c.border}; border-radius: 4px; text-align: center;
                    max-height: 14px; }}
    QProgressBar::chunk {{ background: {c.accent}; border-radius: 3px; }}
    QStatusBar {{ background: {c.panel}; color: {c.dim_text}; }}
    QToolTip {{ background: {c.raised}; color: {c.text}; border: 1px solid {c.border}; padding: 4px; }}
    QMenu {{ background: {c.panel}; border: 1px solid {c.border}; }}
    QMenu::item:selected {{ background: {c.accent}; color: {c.window}; }}
    QTableWidget, QListWidget {{ background: {c.window}; gridline-color: {c.border}; }}
    QHeaderView::section {{ background: {c.raised}; color: {c.dim_text}; border: none; padding: 4px; }}
    QTabBar::tab {{ background: {c.raised}; padding: 6px 14px; border-top-left-radius: 6px;
                    border-top-right-radius: 6px; }}
    QTabBar::tab:selected {{ background: {c.accent}; color: {c.window}; }}
    """
