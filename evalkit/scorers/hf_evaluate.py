"""Any Hugging Face `evaluate` metric module as a scorer, per case and per corpus.

`path` is a metric module on disk (a folder holding `<folder name>.py`, or a `.py` file), the way
teams keep their own metrics; a suite-relative path is resolved against the suite's folder. A
Hub name (`bleu`, `org/metric`) works only while the Hub is reachable: with HF_HUB_OFFLINE (or
HF_EVALUATE_OFFLINE) set it is refused at build time, before any model call, with the way to
point at a local copy. Each case is one `compute(predictions=[output], references=[...])`; the
summary adds `corpus_<score>` from one `compute` over every scored output of a suite × variant.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import UserInputError
from evalkit.paths import cache_dir
from evalkit.registry import scorer
from evalkit.scorers.base import Scorer, unmeasured
from evalkit.types import Score, ScoreInput

INSTALL_HINT = "pip install 'evalkit[evaluate]'"
TRUE = {"1", "ON", "YES", "TRUE"}


def hub_offline() -> bool:
    return any(os.environ.get(v, "").upper() in TRUE for v in ("HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE"))


def local_copy_hint(path: str) -> str:
    hub_id = path if "/" in path else f"evaluate-metric/{path}"
    folder = f"metrics/{path.rsplit('/', 1)[-1]}"
    return (
        f"download it once where you are online (git clone https://huggingface.co/spaces/{hub_id} {folder}) "
        f"and set 'path: {folder}'"
    )


def load_module(path: str, config_name: str | None) -> Any:
    """Load the metric module; every failure is a UserInputError naming `path`."""
    local = Path(path).expanduser().exists()
    if not local and hub_offline():
        raise UserInputError(
            f"evaluate metric '{path}' is not a local path, and the Hugging Face Hub is offline "
            f"(HF_HUB_OFFLINE): {local_copy_hint(path)}"
        )
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    try:
        import evaluate
    except ImportError:
        raise UserInputError(f"the evaluate scorer needs the evaluate library: {INSTALL_HINT}") from None
    evaluate.logging.set_verbosity_error()
    target = str(Path(path).expanduser().resolve()) if local else path
    try:
        # keep_in_memory: no Arrow files; cache_dir: its lock and data folders stay in evalkit's cache
        cache = str(cache_dir() / "evaluate")
        return evaluate.load(target, config_name, keep_in_memory=True, cache_dir=cache)
    except Exception as exc:  # a module's own import errors, a missing script, no network...
        hint = "" if local else f"; {local_copy_hint(path)}"
        raise UserInputError(f"cannot load evaluate metric '{path}': {exc}{hint}") from None


def takes_reference_lists(module: Any) -> bool:
    """Whether the module's `references` feature is a list of strings (several per case)."""
    from datasets import Value

    features = module.features if isinstance(module.features, list) else [module.features]
    return any(not isinstance(f["references"], Value) for f in features if "references" in f)


class EvaluateMetric(Scorer):
    needs_reference = True

    def __init__(
        self, module: Any, keys: Mapping[str, str], higher: bool, corpus: bool, args: dict[str, Any]
    ):
        self.module = module
        self.keys = dict(keys)  # result key → score name
        self.names = tuple(self.keys.values())
        self.higher_is_better = higher
        self.with_corpus = corpus
        self.args = args
        self.reference_lists = takes_reference_lists(module)
        self._lock = threading.Lock()  # a module keeps state between add and compute

    def _references(self, item: ScoreInput) -> Any:
        return list(item.references) if self.reference_lists else item.references[0]

    def _compute(self, items: Sequence[ScoreInput]) -> dict[str, Any]:
        with self._lock:
            result = self.module.compute(
                predictions=[i.output for i in items],
                references=[self._references(i) for i in items],
                **self.args,
            )
        if not isinstance(result, dict):
            raise TypeError(f"compute() returned {type(result).__name__}, not a dict")
        return result

    def _value(self, result: Mapping[str, Any], key: str) -> float:
        if key not in result:
            raise KeyError(f"the metric returned no key '{key}' (it returned {sorted(result)})")
        value = result[key]
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"key '{key}' is {type(value).__name__}, not a number") from None

    def score_one(self, item: ScoreInput) -> list[Score]:
        try:
            result = self._compute([item])
            return [Score(name=name, value=self._value(result, key)) for key, name in self.keys.items()]
        except Exception as exc:
            return unmeasured(self.names, f"{self.module.name}: {type(exc).__name__}: {exc}")

    def corpus(self, items: Sequence[ScoreInput]) -> dict[str, float]:
        if not self.with_corpus or not items:
            return {}
        try:
            result = self._compute(items)
            return {f"corpus_{name}": self._value(result, key) for key, name in self.keys.items()}
        except Exception:
            return {}  # the per-case rows already carry the reason


def key_map(keys: list[str] | dict[str, str] | None, name: str | None, default: str) -> dict[str, str]:
    if isinstance(keys, dict):
        if name is not None:
            raise ValueError("give score names in 'keys: {result_key: score_name}', not 'name'")
        mapping = dict(keys)
    else:
        mapping = {k: k for k in (keys or [default])}
    if not mapping:
        raise ValueError("'keys' is empty")
    if name is not None:
        if len(mapping) != 1:
            raise ValueError("'name' renames a single key; map several with 'keys: {result_key: score_name}'")
        mapping = {next(iter(mapping)): name}
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("score names in 'keys' must be distinct")
    return mapping


@scorer(
    "evaluate",
    description="a Hugging Face `evaluate` metric module (local path), per case and per corpus",
    extra="evaluate",
)
def evaluate_metric(
    path: str,
    keys: list[str] | dict[str, str] | None = None,
    name: str | None = None,
    higher_is_better: bool = True,
    corpus: bool = True,
    config_name: str | None = None,
    args: dict[str, Any] | None = None,
) -> Scorer:
    module = load_module(path, config_name)
    mapping = key_map(keys, name, default=module.name)
    return EvaluateMetric(module, mapping, higher_is_better, corpus, args or {})
