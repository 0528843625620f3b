"""Helpers of the spec tests: suites of JSONL cases, and the suite content hash as it was computed
before cases were streamed (the reference the streamed hash must equal)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from evalkit.spec.suite import Suite, SuiteSpec
from evalkit.spec.yamlfile import load_yaml


def write_jsonl_suite(tmp_path: Path, rows: list[dict[str, object]], name: str = "s") -> Path:
    (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / f"{name}.yaml"
    path.write_text(f'name: {name}\nprompt: "Q: {{{{ q }}}}"\nscorers: [exact]\ncases: {name}.jsonl\n')
    return path


def reference_hash(path: Path, suite: Suite) -> str:
    """The content hash as it was computed before cases were streamed: one JSON text of the
    whole payload, every case at once."""
    spec = SuiteSpec.model_validate(load_yaml(path).data)
    new = {"tools", "tool_choice", "agent", "max_new_failures", "multiple_choice"}
    dumped = spec.model_dump(
        mode="json", exclude={"cases", "pass_", *(k for k in new if getattr(spec, k) is None)}
    )
    for key in ("tools", "tool_choice"):
        if dumped["params"].get(key) is None:
            dumped["params"].pop(key, None)
    payload = {
        "spec": dumped,
        "cases": [
            [c.id, c.vars, list(c.references), [m.model_dump() for m in c.messages or ()]]
            + ([list(c.relevant_ids)] if c.relevant_ids else [])
            + ([c.expect.model_dump(mode="json")] if c.expect is not None else [])
            + (
                [[t.model_dump(mode="json", exclude_none=True) for t in c.tools]]
                if c.tools is not None
                else []
            )
            + ([{"choices": list(c.choices), "gold": c.gold}] if c.choices is not None else [])
            for c in suite.cases
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
