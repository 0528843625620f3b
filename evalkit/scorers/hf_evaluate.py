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
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalkit._util.paths import cache_dir
from evalkit.errors import UserInputError
from evalkit.plugins import corpus_metric, scorer
from evalkit.scorers.base import Scorer, unmeasured
from evalkit.types import Score, ScoreInput, ScorerInfo

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
    def __init__(
        self, module: Any, keys: Mapping[str, str], higher: bool, corpus: bool, args: dict[str, Any]
    ):
        self.module = module
        self.keys = dict(keys)  # result key → score name
        self.names = tuple(self.keys.values())
        self.higher = higher
        self.with_corpus = corpus
        self.args = args
        self.reference_lists = takes_reference_lists(module)
        self._lock = threading.Lock()  # a module keeps state between add and compute

    def refine(self, info: ScorerInfo) -> ScorerInfo:
        return replace(info, higher_is_better=self.higher, corpus="evaluate" if self.with_corpus else None)

    def corpus_options(self, name: str) -> dict[str, Any]:
        return {"key": next(k for k, n in self.keys.items() if n == name)}

    def _compute(self, items: Sequence[ScoreInput]) -> dict[str, Any]:
        with self._lock:
            return compute(
                self.module,
                [i.output for i in items],
                [i.references for i in items],
                self.reference_lists,
                self.args,
            )

    def _value(self, result: Mapping[str, Any], key: str) -> float:
        return value_of(result, key)

    def score_one(self, item: ScoreInput) -> list[Score]:
        try:
            result = self._compute([item])
            return [Score(name=name, value=self._value(result, key)) for key, name in self.keys.items()]
        except Exception as exc:
            return unmeasured(self.names, f"{self.module.name}: {type(exc).__name__}: {exc}")


def compute(
    module: Any, outputs: list[str], refs: Sequence[Sequence[str]], lists: bool, args: Mapping[str, Any]
) -> dict[str, Any]:
    """One `compute` call; a module whose `references` feature is a list gets them all."""
    references = [list(r) if lists else r[0] for r in refs]
    result = module.compute(predictions=outputs, references=references, **args)
    if not isinstance(result, dict):
        raise TypeError(f"compute() returned {type(result).__name__}, not a dict")
    return result


def value_of(result: Mapping[str, Any], key: str) -> float:
    if key not in result:
        raise KeyError(f"the metric returned no key '{key}' (it returned {sorted(result)})")
    value = result[key]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"key '{key}' is {type(value).__name__}, not a number") from None


@corpus_metric("evaluate")
class EvaluateCorpus:
    """`corpus_<score>`: one `compute` over every scored output of a suite × variant. An arbitrary
    module has no sufficient statistics to sum, so this keeps the outputs until the end: the
    one corpus figure whose memory grows with the run (`corpus: false` turns it off)."""

    def __init__(self, options: Mapping[str, Any]):
        self.options = options
        self.outputs: list[str] = []
        self.references: list[tuple[str, ...]] = []

    def add(self, output: str, references: Sequence[str]) -> None:
        self.outputs.append(output)
        self.references.append(tuple(references))

    def score(self) -> float | None:
        if not self.outputs:
            return None
        try:
            module = load_module(self.options["path"], self.options.get("config_name"))
            lists = takes_reference_lists(module)
            result = compute(module, self.outputs, self.references, lists, self.options.get("args") or {})
            return value_of(result, self.options["key"])
        except Exception:
            return None  # the per-case rows already carry the reason


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
    needs_reference=True,
    description="a Hugging Face `evaluate` metric module (local path), per case and per corpus",
    extra="evaluate",
    outside=("path",),
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
