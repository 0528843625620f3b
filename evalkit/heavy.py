"""One lock for loading heavy ML libraries and models.

Providers load their models in worker threads while the event loop may be scoring with an
embedding model. torch, transformers, accelerate and vLLM import each other in cycles, and
importing them from two threads at once fails ("partially initialized module"), so every
first import or model load of theirs holds this lock.
"""

from __future__ import annotations

import threading

IMPORT_LOCK = threading.RLock()
