"""What Deskfind never indexes because it is a secret: by folder, by file name, by the
files that mark a browser or app profile, and by content.

These rules apply whatever the settings say (include_hidden, excludes), in any letter
case for names.  They are deliberately broad where the cost of a miss is a leaked key
and narrow where a false alarm would hide a user's ordinary documents: content rules
only match shapes that real credentials have (key armour, issued-token formats,
secret-named settings with key-like values), never bare words such as "password".
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable

# How a file skipped for its content is recorded.
SECRET_REASON = "holds a private key or credentials; never indexed"

# Folders holding keys, credentials, password stores, wallets, and the profiles of
# browsers and messengers (their cookies, saved logins and message keys).  An entry
# with a "/" matches the last components of a path (`.config/gh`).
SECRET_DIRS = (
    # keys and cloud or tool credentials
    ".ssh", ".gnupg", ".aws", ".azure", ".gcloud", ".password-store", ".kube",
    ".docker", ".terraform.d", ".pki", ".oci", ".minikube", ".cert",
    ".config/gcloud", ".config/gh", ".config/hub", ".config/op", ".config/rclone",
    ".config/doctl", ".config/hcloud", ".config/keybase",
    # keyrings, password managers, wallets
    ".local/share/keyrings", ".gnome2/keyrings", ".local/share/kwalletd",
    "share/apps/kwallet", ".config/Bitwarden", ".config/1Password", ".electrum",
    ".bitcoin", ".ethereum",
    # browsers and mail clients
    ".mozilla", ".thunderbird", ".librewolf", ".waterfox", ".floorp", "tor-browser",
    ".local/share/torbrowser", "google-chrome", "chromium", "BraveSoftware",
    ".config/vivaldi", ".config/microsoft-edge", ".config/opera", ".config/yandex-browser",
    # messengers (their stores hold message keys)
    ".config/Signal", ".config/Element", ".config/discord", ".config/Slack",
    ".local/share/TelegramDesktop",
)

SECRET_FILES = (
    # environment and settings files that hold secrets by convention
    ".env", ".env.*", "*.env", ".envrc", "secrets", "secrets.*", "*.secret", "*.secrets",
    ".secrets", ".vault-token", "*.token", "token.json", "client_secret*.json",
    "service-account*.json", "credentials", "credentials.*", "*.tfstate", "*.tfstate.*",
    "*.tfvars", "*.tfvars.json", ".terraformrc", "terraform.rc",
    # keys, keystores, password databases, wallets
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx", "*.kdb", "*.ppk",
    "*.keychain", "*.keychain-db", "wallet.dat", "id_rsa*", "id_dsa*", "id_ecdsa*",
    "id_ed25519*", "id_xmss*", "*_rsa", "*_ed25519", "*_ecdsa", "settings-security.xml",
    # tool credential files
    ".netrc", "_netrc", ".pgpass", ".npmrc", ".pypirc", ".git-credentials", ".gitcookies",
    ".htpasswd", ".my.cnf", ".mylogin.cnf", ".s3cfg", ".boto", "rclone.conf", ".dockercfg",
    # shell, REPL and editor histories: typed passwords and tokens end up there
    "*_history", ".histfile", ".zhistory", ".viminfo", ".lesshst",
)

# Files that only a browser (Gecko or Chromium-based, Electron apps included) keeps in
# its profile folder, whatever that folder is called or wherever it was copied: a
# folder holding one of them is a profile and is skipped whole.  Names as the browsers
# write them; each is a database or state file no user document is named after.
PROFILE_MARKERS = frozenset({
    "key4.db", "key3.db", "cert9.db", "cookies.sqlite", "places.sqlite",
    "formhistory.sqlite", "signons.sqlite",  # Gecko: Firefox, Thunderbird, forks
    "Local State", "Login Data", "Web Data", "Secure Preferences",  # Chromium, Electron
})

# Content that is a credential whatever the file is called, as (literal, pattern): the
# pattern is only tried where the literal, which every match contains, occurs, so that
# a 60 MB file costs a few fast substring searches.
# - key armour (PEM, OpenSSH, PGP) around private key material, PuTTY key files;
# - AWS-style secret assignments;
# - tokens in the formats their issuers document (GitHub, GitLab, Slack, Stripe,
#   Google, npm, PyPI, OpenAI, Anthropic), with a digit and a letter in the random part
#   so that placeholders (ghp_xxxx…) in documentation do not match;
# - a cookie jar export (Netscape format: live session cookies).
_MIXED = r"(?=[A-Za-z0-9_\-]{0,80}[0-9])(?=[A-Za-z0-9_\-]{0,80}[A-Za-z])"
_SHAPES = (
    ("PRIVATE KEY", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[ \t]*\r?\n"),
    ("PuTTY-User-Key-File-", r"\APuTTY-User-Key-File-\d+:"),
    (("aws_", "AWS_"),
     r"(?im:^[ \t]*(?:aws_secret_access_key|aws_session_token)[ \t]*[=:][ \t]*\S{16})"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), rf"\bgh[pousr]_{_MIXED}[A-Za-z0-9]{{36}}\b"),
    ("github_pat_", rf"\bgithub_pat_{_MIXED}[A-Za-z0-9_]{{70,}}"),
    ("glpat-", rf"\bglpat-{_MIXED}[A-Za-z0-9_\-]{{20}}\b"),
    ("xox", rf"\bxox[abposr]-{_MIXED}[0-9]+-[A-Za-z0-9\-]{{10,}}"),
    ("k_live_", rf"\b[rs]k_live_{_MIXED}[A-Za-z0-9]{{24,}}"),
    ("AIza", rf"\bAIza{_MIXED}[0-9A-Za-z_\-]{{35}}\b"),
    ("npm_", rf"\bnpm_{_MIXED}[A-Za-z0-9]{{36}}\b"),
    ("pypi-AgEIcHlwaS5vcmc", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"),
    ("T3BlbkFJ", r"\bsk-[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}"),
    ("sk-ant-", rf"\bsk-ant-(?:api|admin)\d\d-{_MIXED}[A-Za-z0-9_\-]{{80,}}"),
    ("HTTP Cookie File", r"\A# (?:Netscape )?HTTP Cookie File"),
)
_BYTE_SHAPES = tuple((tuple(x.encode() for x in ((lit,) if isinstance(lit, str) else lit)),
                      re.compile(pattern.encode())) for lit, pattern in _SHAPES)
# Extracted text may have lost the armour's line breaks and a dash or two (a PDF's
# text is de-hyphenated): there, armour followed by key material is enough.
_LOOSE_ARMOUR = (r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-{2,5}\s*"
                 r"(?:[A-Za-z\-]+:[^\n]*\n\s*)*[A-Za-z0-9+/=]{20}")
_TEXT_SHAPES = tuple(((lit,) if isinstance(lit, str) else lit, re.compile(pattern))
                     for lit, pattern in (*_SHAPES, ("PRIVATE KEY", _LOOSE_ARMOUR)))

# In text (not in a file's raw bytes, where it would only meet compressed streams): a
# secret-named setting (`API_KEY=…`, `"password": "…"`, `db.password: …`) given a
# key-like value alone on its line, so `password = getpass()` is code, not a secret.
# The name ends at the secret's word (API_TOKEN, authToken, client-secret; not
# tokenizer or secretary); the value has 8+ characters without spaces or code
# punctuation, a digit and a letter among them, and is not a URL.
_SECRET_WORDS = ("secret", "token", "passw", "apikey", "api_key", "api-key",
                 "access_key", "accesskey", "access-key", "private_key", "privatekey",
                 "auth_key", "authkey", "credential")
_VALUE_CHAR = r"[^\s\"'$<>{}()\[\],;`]"
_SETTING = re.compile(
    r"(?im:^[ \t]*(?:export[ \t]+)?[\"']?"
    r"[a-z0-9_.\-]*?(?:secret|token|passw(?:or)?d|api[_\-]?key|access[_\-]?key|"
    r"private[_\-]?key|auth[_\-]?key|credential)s?(?![a-z])[a-z0-9_.\-]*"
    r"[\"']?[ \t]*[=:][ \t]*[\"']?"
    rf"(?![a-z][a-z0-9+.\-]*://)(?={_VALUE_CHAR}{{0,200}}[0-9])(?={_VALUE_CHAR}{{0,200}}[a-z])"
    rf"{_VALUE_CHAR}{{8,}}"
    r"[\"']?[ \t]*,?[ \t]*(?:#[^\n]*)?\r?$)")


def looks_secret(content: bytes | str) -> bool:
    """Whether a file's bytes, or the text extracted from it, are a private key or
    credentials, whatever the file is called.  Text is also searched for secret-named
    settings, which raw bytes (often compressed) are not."""
    if isinstance(content, bytes):
        return any(any(x in content for x in literals) and pattern.search(content)
                   for literals, pattern in _BYTE_SHAPES)
    if any(any(x in content for x in literals) and pattern.search(content)
           for literals, pattern in _TEXT_SHAPES):
        return True
    return _secret_setting(content)


def _secret_setting(text: str) -> bool:
    """Whether a line of `text` sets a secret-named setting to a key-like value; only
    the lines holding one of the secret's words are tried."""
    lowered = text.lower()
    tried: set[int] = set()
    for word in _SECRET_WORDS:
        at = lowered.find(word)
        while at >= 0:
            start = lowered.rfind("\n", 0, at) + 1
            if start not in tried:
                tried.add(start)
                end = lowered.find("\n", at)
                if _SETTING.match(text, start, len(text) if end < 0 else end):
                    return True
            at = lowered.find(word, at + len(word))
    return False


_MARKER_NAMES = frozenset(os.fsencode(m) for m in PROFILE_MARKERS)


def is_profile(names: Iterable[bytes]) -> bool:
    """Whether a folder listing (its entry names, as the walk's bytes) marks a browser
    or app profile."""
    return any(name in _MARKER_NAMES for name in names)


def profile_folders(names: Iterable[str]) -> frozenset[str]:
    """The folders, among '/'-separated paths (an archive's members), that hold a
    profile marker."""
    return frozenset(posixpath.dirname(n) for n in names
                     if posixpath.basename(n) in PROFILE_MARKERS)


def under_profile(name: str, folders: frozenset[str]) -> bool:
    """Whether the '/'-separated path `name` lies in one of `folders`."""
    parts = name.split("/")[:-1]
    return bool(folders) and any("/".join(parts[:depth]) in folders
                                 for depth in range(len(parts) + 1))


def profile_dir(path: bytes | str) -> bool:
    """Whether the folder at `path` is a browser or app profile, by its marker files."""
    return any(os.path.lexists(os.path.join(os.fsdecode(path), m)) for m in PROFILE_MARKERS)
