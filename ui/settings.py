"""The settings dialog: folders, exclusions, model, threads and start at login."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.backend import IndexStatus, UserSettings
from ui import autostart
from ui.icons import app_icon
from ui.results import short_path
from ui.session import Session


def _note(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class SettingsDialog(QDialog):
    """Folder changes apply at once; the other settings when Save is pressed."""

    def __init__(self, session: Session, parent: QWidget | None = None, *,
                 autostart_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.autostart_dir = autostart_dir or autostart.autostart_dir()
        self.setWindowTitle("Deskfind settings")
        self.setWindowIcon(app_icon())
        self.resize(620, 640)
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(self._folders_box())
        layout.addWidget(self._exclude_box())
        layout.addWidget(self._engine_box())
        self.autostart = QCheckBox("Start Deskfind in the tray when I log in", self)
        self.autostart.setChecked(autostart.is_enabled(self.autostart_dir))
        layout.addWidget(self.autostart)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._load(session.backend.settings if session.backend else UserSettings())
        session.status_changed.connect(self._show_roots)
        if session.status is not None:
            self._show_roots(session.status)

    def _folders_box(self) -> QGroupBox:
        box = QGroupBox("Folders to search", self)
        v = QVBoxLayout(box)
        self.roots = QListWidget(box)
        self.roots.setAlternatingRowColors(True)
        self.roots.setMinimumHeight(110)
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
        v.addWidget(_note("Folders are read again when you choose Update index now; "
                          "watching folders for changes as they happen is not built yet.",
                          box))
        return box

    def _exclude_box(self) -> QGroupBox:
        box = QGroupBox("Never index", self)
        v = QVBoxLayout(box)
        self.excludes = QPlainTextEdit(box)
        self.excludes.setPlaceholderText("One pattern per line, e.g.\nArchive\n*.bak\nDrafts/old")
        self.excludes.setMaximumHeight(90)
        v.addWidget(self.excludes)
        v.addWidget(_note("Patterns match file and folder names (wildcards * and ?) and take "
                          "effect on the next index update, which also drops matching files "
                          "already indexed. Keys, password stores, .git, node_modules, caches "
                          "and hidden folders are always skipped.", box))
        return box

    def _engine_box(self) -> QGroupBox:
        box = QGroupBox("Search engine", self)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        row = QHBoxLayout()
        self.model_dir = QLineEdit(box)
        self.model_dir.setPlaceholderText("Built-in model (all-MiniLM-L6-v2)")
        browse = QPushButton("Browse…", box)
        browse.clicked.connect(self._browse_model)
        row.addWidget(self.model_dir, 1)
        row.addWidget(browse)
        form.addRow("Model folder", row)
        self.threads = QSpinBox(box)
        self.threads.setRange(0, os.cpu_count() or 64)
        self.threads.setSpecialValueText("Automatic")
        form.addRow("CPU threads", self.threads)
        data = QLabel(short_path(self.session.data_dir), box)
        data.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Index folder", data)
        form.addRow(_note("A different model means every passage is embedded again on the "
                          "next index update.", box))
        return box

    def _load(self, settings: UserSettings) -> None:
        self.excludes.setPlainText("\n".join(settings.exclude_patterns))
        self.model_dir.setText(settings.model_dir)
        self.threads.setValue(settings.threads)

    def _show_roots(self, status: IndexStatus) -> None:
        self.roots.clear()
        for root in status.roots:
            item = QListWidgetItem(short_path(root))
            item.setData(Qt.ItemDataRole.UserRole, os.fsencode(root))
            item.setToolTip(root)
            self.roots.addItem(item)
        if not status.roots:
            self.remove.setEnabled(False)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to search")
        if folder:
            self.session.add_folders([Path(folder)])

    def _remove_folder(self) -> None:
        item = self.roots.currentItem()
        if item is not None:
            self.session.remove_folder(item.data(Qt.ItemDataRole.UserRole))

    def chosen_settings(self) -> UserSettings:
        patterns = tuple(line.strip() for line in self.excludes.toPlainText().splitlines()
                         if line.strip())
        return UserSettings(exclude_patterns=patterns, model_dir=self.model_dir.text().strip(),
                            threads=self.threads.value())

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
