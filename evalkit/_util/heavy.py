"""One lock for loading heavy ML libraries and models.

Providers load their models in worker threads while the event loop may be scoring with an
embedding model. torch, transformers, accelerate and vLLM import each other in cycles, and
importing them from two threads at once fails ("partially initialized module"), so every
first import or model load of theirs holds this lock.
"""

from __future__ import annotations

import os
import threading

IMPORT_LOCK = threading.RLock()


def quiet_libraries() -> None:
    """No hub access and no library progress bars (they would garble evalkit's own).
    tqdm reads TQDM_DISABLE when it is imported, so call this before importing transformers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
