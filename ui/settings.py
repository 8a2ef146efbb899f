"""The settings dialog over the shared config file: folders, exclusions, hidden files,
model, threads and start at login."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.backend import IndexStatus
from app.config import SCHEMA
from ui import autostart
from ui.icons import app_icon
from ui.results import short_path
from ui.session import Session
from ui.single import QUICK_COMMAND

DESCRIPTIONS = {s.key: s.description for s in SCHEMA}
CHOICES = {s.key: s.choices for s in SCHEMA}


def _note(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class SettingsDialog(QDialog):
    """Folder changes apply at once; the other settings when Save is pressed.

    Everything but start at login is stored in the config file `deskfind config` edits.
    """

    def __init__(self, session: Session, parent: QWidget | None = None, *,
                 autostart_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.autostart_dir = autostart_dir or autostart.autostart_dir()
        self.setWindowTitle("Deskfind settings")
        self.setWindowIcon(app_icon())
        self.resize(640, 700)
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        # Word-wrapped notes make Qt underestimate the boxes' heights; never go below
        # what the contents need.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addWidget(self._folders_box())
        layout.addWidget(self._exclude_box())
        layout.addWidget(self._engine_box())
        self.autostart = QCheckBox("Start Deskfind in the tray when I log in", self)
        self.autostart.setChecked(autostart.is_enabled(self.autostart_dir))
        layout.addWidget(self.autostart)
        layout.addLayout(self._shortcut_row())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._load(session.backend.settings() if session.backend else {})
        self._shown_roots: tuple[str, ...] | None = None
        session.status_changed.connect(self._show_roots)
        if session.status is not None:
            self._show_roots(session.status)

    def _shortcut_row(self) -> QHBoxLayout:
        """The command to bind to a key: Qt cannot grab a global hotkey portably."""
        row = QHBoxLayout()
        label = QLabel("Quick search from anywhere: bind", self)
        self.quick_command = QLineEdit(QUICK_COMMAND, self)
        self.quick_command.setReadOnly(True)
        self.quick_command.setToolTip("Add this command as a custom shortcut in your "
                                      "desktop's keyboard settings")
        copy = QPushButton("Copy", self)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(QUICK_COMMAND))
        row.addWidget(label)
        row.addWidget(self.quick_command, 1)
        row.addWidget(copy)
        return row

    def _folders_box(self) -> QGroupBox:
        box = QGroupBox("Folders to search", self)
        v = QVBoxLayout(box)
        self.roots = QListWidget(box)
        self.roots.setAlternatingRowColors(True)
        self.roots.setMinimumHeight(90)
        self.roots.setMaximumHeight(140)
        self.roots.setToolTip(DESCRIPTIONS["roots"])
        v.addWidget(self.roots)
        row = QHBoxLayout()
        add = QPushButton("Add folder…", box)
        add.clicked.connect(self._add_folder)
        self.remove = QPushButton("Remove", box)
        self.remove.setToolTip("Stop searching this folder and forget its files")
        self.remove.clicked.connect(self._remove_folder)
        self.remove.setEnabled(False)
        self.roots.currentItemChanged.connect(lambda item, _: self.remove.setEnabled(bool(item)))
        update = QPushButton("Update index now", box)
        update.clicked.connect(self.session.start_indexing)
        row.addWidget(add)
        row.addWidget(self.remove)
        row.addStretch(1)
        row.addWidget(update)
        v.addLayout(row)
        v.addWidget(_note("The background service watches these folders and updates the "
                          "index as files change. Without it, folders are read again when "
                          "you choose Update index now.", box))
        return box

    def _exclude_box(self) -> QGroupBox:
        box = QGroupBox("Never index", self)
        v = QVBoxLayout(box)
        self.excludes = QPlainTextEdit(box)
        self.excludes.setPlaceholderText("One pattern per line, e.g.\nArchive\n*.bak\nDrafts/old")
        self.excludes.setMaximumHeight(90)
        self.excludes.setToolTip(DESCRIPTIONS["exclude"])
        v.addWidget(self.excludes)
        self.include_hidden = QCheckBox("Also index hidden files and folders", box)
        self.include_hidden.setToolTip(DESCRIPTIONS["include_hidden"])
        v.addWidget(self.include_hidden)
        v.addWidget(_note("Patterns match file and folder names (wildcards * and ?). Files "
                          "already indexed that match are dropped at the next full scan. "
                          "Keys, password stores, .git, node_modules and caches are always "
                          "skipped.", box))
        return box

    def _engine_box(self) -> QGroupBox:
        box = QGroupBox("Search engine", self)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        row = QHBoxLayout()
        self.model_dir = QLineEdit(box)
        self.model_dir.setPlaceholderText("Built-in model (all-MiniLM-L6-v2)")
        self.model_dir.setToolTip(DESCRIPTIONS["model_dir"])
        browse = QPushButton("Browse…", box)
        browse.clicked.connect(self._browse_model)
        row.addWidget(self.model_dir, 1)
        row.addWidget(browse)
        form.addRow("Model folder", row)
        self.precision = QComboBox(box)
        self.precision.addItems(list(CHOICES["embedding_precision"]))
        self.precision.setToolTip(DESCRIPTIONS["embedding_precision"])
        form.addRow("Model precision", self.precision)
        self.threads = QSpinBox(box)
        self.threads.setRange(0, os.cpu_count() or 64)
        self.threads.setSpecialValueText("Automatic")
        self.threads.setToolTip(DESCRIPTIONS["threads"])
        form.addRow("CPU threads", self.threads)
        self.ocr = QCheckBox("Read scanned pages and images (OCR)", box)
        self.ocr.setToolTip(DESCRIPTIONS["ocr"])
        form.addRow(self.ocr)
        backend = self.session.backend
        for label, path in (("Index folder", self.session.data_dir),
                            ("Settings file", str(backend.config.path) if backend else "")):
            shown = QLabel(short_path(path), box)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, shown)
        form.addRow(_note("A different model or precision means every passage is embedded "
                          "again; the background service restarts to use it.", box))
        return box

    def _load(self, settings: dict[str, Any]) -> None:
        self.excludes.setPlainText("\n".join(settings.get("exclude", ())))
        self.include_hidden.setChecked(bool(settings.get("include_hidden", False)))
        self.model_dir.setText(settings.get("model_dir", ""))
        self.threads.setValue(int(settings.get("threads", 0)))
        self.precision.setCurrentText(str(settings.get("embedding_precision", "auto")))
        self.ocr.setChecked(bool(settings.get("ocr", True)))

    def _show_roots(self, status: IndexStatus) -> None:
        if status.roots == self._shown_roots:  # refreshed often: keep the selection
            return
        self._shown_roots = status.roots
        self.roots.clear()
        for root in status.roots:
            item = QListWidgetItem(short_path(root))
            item.setData(Qt.ItemDataRole.UserRole, os.fsencode(root))
            item.setToolTip(root)
            self.roots.addItem(item)
        if not status.roots:
            self.remove.setEnabled(False)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        if self.session.backend is not None:  # the file may have changed since (CLI)
            self._load(self.session.backend.settings())
        super().showEvent(event)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to search")
        if folder:
            self.session.add_folders([Path(folder)])

    def _remove_folder(self) -> None:
        item = self.roots.currentItem()
        if item is not None:
            self.session.remove_folder(item.data(Qt.ItemDataRole.UserRole))

    def chosen_settings(self) -> dict[str, Any]:
        """The dialog's settings by config key (folders are saved as they change)."""
        patterns = [line.strip() for line in self.excludes.toPlainText().splitlines()
                    if line.strip()]
        return {"exclude": patterns, "include_hidden": self.include_hidden.isChecked(),
                "model_dir": self.model_dir.text().strip(),
                "embedding_precision": self.precision.currentText(),
                "threads": self.threads.value(), "ocr": self.ocr.isChecked()}

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "ONNX model folder")
        if folder:
            self.model_dir.setText(folder)

    def accept(self) -> None:
        self.session.save_settings(self.chosen_settings())
        try:
            autostart.set_enabled(self.autostart_dir, self.autostart.isChecked())
        except OSError as exc:
            self.session.message.emit(f"Could not change start at login: {exc}")
        super().accept()
