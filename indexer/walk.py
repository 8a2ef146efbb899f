"""Walking roots: exact byte paths, default excludes for secrets and junk, no link escapes."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

# Secrets are never indexed, whatever the settings say (include_hidden, excludes), and
# are refused when named as a root or a file: see indexer/secrets.py.
from indexer.secrets import SECRET_DIRS, SECRET_FILES, is_profile, profile_dir

# Junk: never indexed unless the user removes them from the excludes.
DEFAULT_EXCLUDED_DIRS = (
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".cache", ".venv", "venv",
    ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "Trash", ".Trash",
    ".local/share/Trash",
)
DEFAULT_EXCLUDED_FILES: tuple[str, ...] = ()


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression for a set of wildcard patterns, ignoring letter case."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns),
                      re.IGNORECASE | re.DOTALL)


def _matches(name: str, rel: str, patterns: tuple[str, ...]) -> bool:
    """Whether a name, or its path relative to the root, matches a pattern, ignoring
    letter case (`.SSH`, `ID_RSA` and `Node_Modules` are the same names to a user)."""
    pattern = _compiled(patterns)
    return pattern is not None and bool(pattern.match(name) or pattern.match(rel))


@dataclass(frozen=True)
class WalkRules:
    """What a walk visits."""

    excluded_dirs: tuple[str, ...] = DEFAULT_EXCLUDED_DIRS
    excluded_files: tuple[str, ...] = DEFAULT_EXCLUDED_FILES
    include_hidden: bool = False
    max_file_bytes: int = 64 * 1024 * 1024
    extensions: frozenset[str] | None = field(default=None)  # None: every extension
    included_files: tuple[str, ...] = ()  # when set, only file names matching one of these

    def dir_excluded(self, path: str, rel: str) -> bool:
        """Whether the walk skips a folder (`path` absolute, `rel` from the root)."""
        name = os.path.basename(path)
        if secret_dir(path):
            return True
        if name.startswith(".") and not self.include_hidden:
            return True
        return _matches(name, rel, self.excluded_dirs)

    def file_excluded(self, name: str) -> bool:
        if _matches(name, name, SECRET_FILES):
            return True
        if name.startswith(".") and not self.include_hidden:
            return True
        if self.included_files and not _matches(name, name, self.included_files):
            return True
        return _matches(name, name, self.excluded_files)

    def refusal(self, path: bytes | str, *, is_dir: bool, on_disk: bool = True) -> str | None:
        """Why a root or a file named by the user is not indexed (None: it may be).

        Anything inside a secret folder or a browser profile, or a secret file, is
        refused; so is a folder or file whose own name an exclude pattern matches.
        Hidden names are allowed here: typing one is asking for it.  `on_disk=False`
        judges a name alone (an archive member's), without looking at folders on disk;
        on disk, a path that is or passes through a symbolic link is judged by where it
        leads too (a link to ~/.ssh is ~/.ssh).
        """
        shown = os.fsdecode(path)
        if on_disk:
            real = os.path.realpath(shown)
            if real != os.path.abspath(shown):
                why = self.refusal(real, is_dir=is_dir)
                if why is not None:
                    return f"{shown} is a link: {why}"
        parts = [p for p in shown.split("/") if p]
        folders = parts if is_dir else parts[:-1]
        lead = "/" if shown.startswith("/") else ""
        if any(secret_dir("/".join(folders[:depth])) for depth in range(1, len(folders) + 1)) \
                or (not is_dir and parts and _matches(parts[-1], parts[-1], SECRET_FILES)):
            return f"{shown} holds secrets (keys or credentials); Deskfind never indexes them"
        if on_disk and any(profile_dir(lead + "/".join(folders[:depth]))
                           for depth in range(1, len(folders) + 1)):
            return (f"{shown} is in a browser or app profile (saved logins, cookies); "
                    "Deskfind never indexes them")
        if parts and _matches(parts[-1], parts[-1],
                              self.excluded_dirs if is_dir else self.excluded_files):
            return f"{shown} is excluded by the exclude patterns in the settings"
        return None


def secret_dir(path: str) -> bool:
    """Whether a folder is a secret one: its name, or its last two or three path
    components (`.local/share/keyrings`), match SECRET_DIRS in any letter case."""
    parts = [p for p in path.split("/") if p]
    return any(_matches(parts[-1], "/".join(parts[-n:]), SECRET_DIRS)
               for n in (1, 2, 3) if len(parts) >= n)


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
    if profile_dir(root):
        return False
    for depth in range(1, len(dirs) + 1):
        rel_dir = b"/".join(parts[:depth])
        folder = os.path.join(root, rel_dir)
        if rules.dir_excluded(os.fsdecode(folder), os.fsdecode(rel_dir)) or profile_dir(folder):
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
    produce duplicates.  A folder whose files mark it as a browser or app profile is
    skipped whole, whatever it is called.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue  # unreadable or vanished directory: nothing to index there
        if is_profile(e.name for e in entries):
            continue
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
                if not rules.dir_excluded(os.fsdecode(entry.path), rel):
                    stack.append(entry.path)
            elif stat.S_ISREG(st.st_mode) and not rules.file_excluded(name):
                if rules.extensions is not None and file_ext(entry.path) not in rules.extensions:
                    continue
                yield FoundFile(entry.path, st.st_size, st.st_mtime_ns)
