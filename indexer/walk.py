"""Walking roots: exact byte paths, default excludes for secrets and junk, no link escapes."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

# Never indexed unless the user removes them from the excludes: secrets, VCS internals,
# dependency trees, caches and browser profiles.
DEFAULT_EXCLUDED_DIRS = (
    ".ssh", ".gnupg", ".aws", ".password-store", ".kube", ".docker", ".git", ".hg", ".svn",
    "node_modules", "__pycache__", ".cache", ".venv", "venv", ".tox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".mozilla", "google-chrome", "chromium",
    "BraveSoftware", "Trash", ".Trash", ".local/share/Trash",
)
DEFAULT_EXCLUDED_FILES = (".env", ".env.*", "*.pem", "*.key", "id_rsa*", "id_ed25519*",
                          ".netrc", ".pgpass", "*.kdbx")


@dataclass(frozen=True)
class WalkRules:
    """What a walk visits."""

    excluded_dirs: tuple[str, ...] = DEFAULT_EXCLUDED_DIRS
    excluded_files: tuple[str, ...] = DEFAULT_EXCLUDED_FILES
    include_hidden: bool = False
    max_file_bytes: int = 64 * 1024 * 1024
    extensions: frozenset[str] | None = field(default=None)  # None: every extension
    included_files: tuple[str, ...] = ()  # when set, only file names matching one of these

    def dir_excluded(self, name: str, rel: str) -> bool:
        if name.startswith(".") and not self.include_hidden:
            return True
        return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(rel, p)
                   for p in self.excluded_dirs)

    def file_excluded(self, name: str) -> bool:
        if name.startswith(".") and not self.include_hidden:
            return True
        if self.included_files and not any(fnmatch.fnmatchcase(name, p)
                                           for p in self.included_files):
            return True
        return any(fnmatch.fnmatchcase(name, p) for p in self.excluded_files)


@dataclass(frozen=True)
class FoundFile:
    path: bytes
    size: int
    mtime_ns: int


def file_ext(path: bytes) -> str:
    name = os.path.basename(path)
    dot = name.rfind(b".")
    return os.fsdecode(name[dot + 1:]).lower() if dot > 0 else ""


def admits(rules: WalkRules, root: bytes, path: bytes, *, is_dir: bool = False) -> bool:
    """Whether a walk of `root` would visit `path` (for paths reported by events)."""
    rel = os.path.relpath(path, root)
    if rel == b".":
        return True
    parts = rel.split(b"/")
    dirs = parts if is_dir else parts[:-1]
    for depth, part in enumerate(dirs):
        if rules.dir_excluded(os.fsdecode(part), os.fsdecode(b"/".join(parts[:depth + 1]))):
            return False
    if is_dir:
        return True
    if rules.file_excluded(os.fsdecode(parts[-1])):
        return False
    return rules.extensions is None or file_ext(path) in rules.extensions


def walk(root: bytes, rules: WalkRules) -> Iterator[FoundFile]:
    """Regular files under `root` that the rules admit.

    Symbolic links are not followed (a link can lead out of the root or into a loop),
    and each (device, inode) is visited once, so bind mounts and hard links do not
    produce duplicates.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue  # unreadable or vanished directory: nothing to index there
        for entry in sorted(entries, key=lambda e: e.name):
            name = os.fsdecode(entry.name)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            if stat.S_ISDIR(st.st_mode):
                rel = os.fsdecode(os.path.relpath(entry.path, root))
                if not rules.dir_excluded(name, rel):
                    stack.append(entry.path)
            elif stat.S_ISREG(st.st_mode) and not rules.file_excluded(name):
                if rules.extensions is not None and file_ext(entry.path) not in rules.extensions:
                    continue
                yield FoundFile(entry.path, st.st_size, st.st_mtime_ns)
