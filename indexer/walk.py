"""Walking roots: exact byte paths, default excludes for secrets and junk, no link escapes."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

# Secrets: never indexed, whatever the settings say (include_hidden, excludes), and
# refused when named as a root or a file.  Names match in any letter case.
SECRET_DIRS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".gcloud", ".password-store", ".kube",
    ".docker", ".terraform.d", ".pki", ".local/share/keyrings",
    ".config/gcloud", ".config/gh", ".config/hub", ".mozilla", "google-chrome", "chromium",
    "BraveSoftware", ".thunderbird",
)
SECRET_FILES = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
    "*.kdb", "*.ppk", ".vault-token", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    "id_xmss*", "*_rsa", "*_ed25519", "*_ecdsa", ".netrc", "_netrc", ".pgpass", ".npmrc",
    ".pypirc", ".git-credentials", ".htpasswd", "credentials", "credentials.json",
    "*.tfstate", "*.tfstate.*", "secrets.y*ml", "service-account*.json",
)
# Junk: never indexed unless the user removes them from the excludes.
DEFAULT_EXCLUDED_DIRS = (
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".cache", ".venv", "venv",
    ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "Trash", ".Trash",
    ".local/share/Trash",
)
DEFAULT_EXCLUDED_FILES: tuple[str, ...] = ()

# A private key or a credentials file, whatever it is called: PEM/OpenSSH/PGP armour
# around key material, PuTTY key files, AWS-style secret key assignments.
_SECRET_CONTENT = re.compile(
    rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[ \t]*\r?\n"
    rb"|\APuTTY-User-Key-File-\d+:"
    rb"|(?m:^[ \t]*(?:aws_secret_access_key|aws_session_token)[ \t]*[=:][ \t]*\S{16})",
    re.IGNORECASE)


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


def looks_secret(data: bytes) -> bool:
    """Whether file content is a private key or credentials, whatever the file's name."""
    return _SECRET_CONTENT.search(data) is not None


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

    def refusal(self, path: bytes | str, *, is_dir: bool) -> str | None:
        """Why a root or a file named by the user is not indexed (None: it may be).

        Anything inside a secret folder, or a secret file, is refused; so is a folder or
        file whose own name an exclude pattern matches.  Hidden names are allowed here:
        typing one is asking for it.
        """
        shown = os.fsdecode(path)
        parts = [p for p in shown.split("/") if p]
        folders = parts if is_dir else parts[:-1]
        if any(secret_dir("/".join(folders[:depth])) for depth in range(1, len(folders) + 1)) \
                or (not is_dir and parts and _matches(parts[-1], parts[-1], SECRET_FILES)):
            return f"{shown} holds secrets (keys or credentials); Deskfind never indexes them"
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
    for depth in range(1, len(dirs) + 1):
        rel_dir = b"/".join(parts[:depth])
        if rules.dir_excluded(os.fsdecode(os.path.join(root, rel_dir)), os.fsdecode(rel_dir)):
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
                if not rules.dir_excluded(os.fsdecode(entry.path), rel):
                    stack.append(entry.path)
            elif stat.S_ISREG(st.st_mode) and not rules.file_excluded(name):
                if rules.extensions is not None and file_ext(entry.path) not in rules.extensions:
                    continue
                yield FoundFile(entry.path, st.st_size, st.st_mtime_ns)
