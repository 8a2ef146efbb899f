"""Test helpers shared by several test modules."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.embedder import Embedder
from engine.search import Searcher
from engine.store import Store
from indexer.pipeline import Indexer, IndexReport


class RandomEmbedder(Embedder):
    """Unit vectors that carry no meaning: the same text always gets the same vector.

    Stands in for a semantic side that returns noise.
    """

    model_id = "random-test-model"
    dim = 384

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(-1, self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector("query:" + text)


def scan_folder(store: Store, root: Path) -> IndexReport:
    """Index `root` into `store` (text only, no embedding), as one indexing run."""
    report = IndexReport()
    with Indexer(store) as indexer:
        indexer.scan([bytes(root)], report)
    return report


def keyword_hits(store: Store, query: str) -> list[str]:
    """The display paths a keyword search for `query` lists, best first."""
    return [r.display_path for r in Searcher(store, None).search(query, mode="lexical")]


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1):
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


# Two pages of a Sphinx-built manual, each as the HTML a reader opens (navigation,
# sidebar, footer) and as the reStructuredText source the build ships beside it
# (labels, directives, roles).  The two pages are on neighbouring subjects and share
# the site's chrome, as different pages of one manual do.
MANUAL_PAGES = {
    "glob": {
        "title": "glob — Unix style pathname pattern expansion",
        "module": "glob",
        "paragraphs": [
            "The glob module finds all the pathnames matching a specified pattern "
            "according to the rules used by the Unix shell, although results are "
            "returned in arbitrary order. No tilde expansion is done, but *, ?, and "
            "character ranges expressed with [] will be correctly matched.",
            "This is done by using the os.scandir() and fnmatch.fnmatch() functions in "
            "concert, and not by actually invoking a subshell. Note that files beginning "
            "with a dot can only be matched by patterns that also start with a dot, "
            "unlike fnmatch.fnmatch() or pathlib.Path.glob().",
            "For a literal match, wrap the meta-characters in brackets. For example, "
            "'[?]' matches the character '?'. The pathlib module offers high-level path "
            "objects as well.",
            "glob.glob(pathname, *, root_dir=None, dir_fd=None, recursive=False) returns "
            "a possibly empty list of path names that match pathname, which must be a "
            "string containing a path specification. pathname can be either absolute "
            "or relative, and can contain shell-style wildcards. Broken symlinks are "
            "included in the results, as in the shell. Whether or not the results are "
            "sorted depends on the file system.",
            "If recursive is true, the pattern ** will match any files and zero or more "
            "directories, subdirectories and symbolic links to directories. If the "
            "pattern is followed by a separator, only directories and subdirectories "
            "match. Using the ** pattern in large directory trees may consume an "
            "inordinate amount of time.",
            "glob.iglob() returns an iterator which yields the same values as glob() "
            "without actually storing them all simultaneously. glob.escape() escapes "
            "all special characters, which is useful if you want to match an arbitrary "
            "literal string that may have special characters in it.",
        ],
    },
    "fnmatch": {
        "title": "fnmatch — Unix filename pattern matching",
        "module": "fnmatch",
        "paragraphs": [
            "This module provides support for Unix shell-style wildcards, which are not "
            "the same as regular expressions. The special characters used in "
            "shell-style wildcards are the asterisk, which matches everything, the "
            "question mark, which matches any single character, and sequences in "
            "square brackets, which match any character in the sequence or not in it.",
            "For a literal match, wrap the meta-characters in brackets. For example, "
            "'[?]' matches the character '?'. Note that the filename separator is not "
            "special to this module. See the glob module for pathname expansion, which "
            "uses filter() to match pathname segments.",
            "Similarly, filenames starting with a period are not special for this "
            "module, and are matched by the * and ? patterns. Also note that "
            "functools.lru_cache() with a maxsize of 32768 is used to cache the "
            "compiled regex patterns in the following functions.",
            "fnmatch.fnmatch(filename, pattern) tests whether the filename string "
            "matches the pattern string, returning True or False. Both parameters are "
            "case-normalized using os.path.normcase(). fnmatchcase() can be used to "
            "perform a case-sensitive comparison, regardless of whether that is "
            "standard for the operating system.",
            "fnmatch.filter(names, pattern) constructs a list from those elements of "
            "the iterable names that match pattern. It is the same as "
            "[n for n in names if fnmatch(n, pattern)], but implemented more "
            "efficiently. fnmatch.translate() returns the shell-style pattern "
            "converted to a regular expression for using with re.match().",
        ],
    },
}

_NAV = """<div class="related" role="navigation" aria-label="related navigation">
<h3>Navigation</h3><ul>
<li class="right"><a href="../genindex.html" title="General Index">index</a></li>
<li class="right"><a href="../py-modindex.html" title="Python Module Index">modules</a> |</li>
<li class="right"><a href="next.html" title="next chapter">next</a> |</li>
<li class="right"><a href="prev.html" title="previous chapter">previous</a> |</li>
<li><a href="https://www.python.org/">Python</a> &#187;</li>
<li><a href="../index.html">3.11.2 Documentation</a> &#187;</li>
<li class="nav-item"><a href="index.html">The Python Standard Library</a> &#187;</li>
<li class="nav-item"><a href="filesys.html">File and Directory Access</a> &#187;</li>
</ul></div>"""

_SIDEBAR = """<div class="sphinxsidebar" role="navigation" aria-label="main navigation">
<h4>Previous topic</h4><p><a href="prev.html">tempfile — Generate temporary files and
directories</a></p><h4>Next topic</h4><p><a href="next.html">linecache — Random access
to text lines</a></p><div role="note" aria-label="source link"><h3>This Page</h3><ul>
<li><a href="../bugs.html">Report a Bug</a></li><li><a href="../_sources/library/x.rst.txt"
rel="nofollow">Show Source</a></li></ul></div></div>"""

_FOOTER = """<div class="footer">&copy; <a href="../copyright.html">Copyright</a>
2001-2023, Python Software Foundation.<br>This page is licensed under the Python Software
Foundation License Version 2.<br>Examples, recipes, and other code in the documentation
are additionally licensed under the Zero Clause BSD License.<br>See <a
href="/license.html">History and License</a> for more information.<br><br>The Python
Software Foundation is a non-profit corporation. <a href="https://www.python.org/psf/
donations/">Please donate.</a><br>Last updated on Feb 07, 2023. <a href="/bugs.html">Found
a bug</a>?<br>Created using <a href="https://www.sphinx-doc.org/">Sphinx</a> 5.3.0.</div>"""


def manual_page_html(page: str) -> str:
    """A manual page as Sphinx renders it: the text inside the site's chrome."""
    info = MANUAL_PAGES[page]
    body = "\n".join(f"<p>{p}</p>" for p in info["paragraphs"])
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{info['title']}"
            f" &#8212; Python 3.11.2 documentation</title><script>var x = 1;</script>"
            f"</head><body>{_NAV}<div class=\"document\"><div class=\"body\" role=\"main\">"
            f"<section id=\"{page}\"><h1>{info['title']}<a class=\"headerlink\">¶</a></h1>"
            f"<p><strong>Source code:</strong> <a href=\"x\">Lib/{page}.py</a></p><hr>"
            f"{body}</section></div></div>{_SIDEBAR}{_NAV}{_FOOTER}</body></html>")


def manual_page_rst(page: str) -> str:
    """The same page's reStructuredText source: labels, directives and roles."""
    info = MANUAL_PAGES[page]
    title = info["title"].replace(info["module"], f":mod:`{info['module']}`", 1)
    paragraphs = [p.replace("os.scandir()", ":func:`os.scandir`")
                  .replace("fnmatch.fnmatch()", ":func:`fnmatch.fnmatch`")
                  .replace("pathlib.Path.glob()", ":meth:`pathlib.Path.glob`")
                  for p in info["paragraphs"]]
    return (f".. _{page}-module:\n\n{title}\n{'=' * len(title)}\n\n"
            f".. module:: {info['module']}\n   :synopsis: {info['title']}\n\n"
            f"**Source code:** :source:`Lib/{page}.py`\n\n.. index:: single: filenames\n\n"
            "--------------\n\n" + "\n\n".join(paragraphs) + "\n\n"
            ".. seealso::\n\n   Module :mod:`pathlib`\n      Object-oriented filesystem "
            "paths.\n")
