"""Planning tool use: a suite's or variant's `tools`, `tool_choice` and `agent` folded into each
request, checked before any model call (declared tools bound, callables importable, a provider
that can send tools), and the providers that run loops wrapped in `AgentProvider`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import UserInputError
from evalkit.providers.base import Provider
from evalkit.providers.service import ProviderSpec
from evalkit.types import AgentSettings, GenerationParams, Request, Usage

if TYPE_CHECKING:
    from evalkit.spec.config import Variant
    from evalkit.spec.prices import Price
    from evalkit.spec.suite import Suite


def tool_params(
    suite: Suite, variant: Variant, params: GenerationParams
) -> tuple[GenerationParams, AgentSettings | None]:
    """The params with the tools a variant (else its suite) declares, and the agent settings."""
    tools = variant.tools if variant.tools is not None else suite.tools
    choice = variant.tool_choice if variant.tool_choice is not None else suite.tool_choice
    agent = variant.agent.over(suite.agent) if variant.agent is not None else suite.agent
    update: dict[str, Any] = {}
    if tools is not None:
        update["tools"] = tuple(tools)
    if choice is not None:
        update["tool_choice"] = choice
    return (params.model_copy(update=update) if update else params), agent


def check_tools(
    suite: Suite,
    variant: Variant,
    params: GenerationParams,
    agent: AgentSettings | None,
    provider: ProviderSpec,
) -> None:
    where = f"suite '{suite.name}', variant '{variant.name}'"
    prompted = agent is not None and agent.protocol == "prompt"
    native = params.tools or params.tool_choice is not None
    if native and not prompted and not provider.cls.supports_tools:
        raise UserInputError(
            f"{where}: provider '{provider.name}' ({provider.kind}) does not support tools; "
            "use an 'openai' provider (any OpenAI-compatible server) or a 'python' one, "
            "or let evalkit prompt for tool calls with agent.protocol: prompt",
            path=suite.source_path,
        )
    if agent is None:
        return
    declared = [t.function.name for t in params.tools or ()]
    if not declared:
        raise UserInputError(
            f"{where}: 'agent' needs 'tools' (the schemas the model sees)", path=suite.source_path
        )
    for name in agent.tools:
        if name not in declared:
            raise UserInputError(
                f"{where}: agent.tools.{name}: no tool of that name in 'tools' ({', '.join(declared)})",
                path=suite.source_path,
            )
    for name in declared:
        if name not in agent.tools:
            raise UserInputError(
                f"{where}: tool '{name}' has no callable in agent.tools", path=suite.source_path
            )


def wrap_agent_providers(
    providers: dict[str, Provider[Any]],
    requests: Sequence[Request],
    loop_providers: set[str],
    suite_dirs: dict[str, Path],
    pricing: Callable[[str, str | None, str | None], Price | None] | None = None,
) -> None:
    """Wrap (in place) every provider that serves agent requests; tools are imported now (a
    module beside the suite file is found: the suite's folder goes on the import path)."""
    from evalkit.agent.loop import AgentProvider, bind_tools, binding_key

    bindings: dict[tuple[tuple[str, str], ...], dict[str, Callable[..., Any]]] = {}
    for request in requests:
        if request.agent is not None and binding_key(request.agent) not in bindings:
            folder = str(suite_dirs[request.suite])
            if folder not in sys.path:
                sys.path.append(folder)
            where = f"suite '{request.suite}', variant '{request.variant}'"
            bindings[binding_key(request.agent)] = bind_tools(request.agent, where)
    for name in loop_providers:
        inner = providers[name]
        providers[name] = AgentProvider(inner, bindings, _pricer(name, inner, pricing))


def _pricer(
    name: str, inner: Provider[Any], pricing: Callable[[str, str | None, str | None], Price | None] | None
) -> Callable[[Request, Usage], float | None] | None:
    if pricing is None:
        return None

    def price(request: Request, usage: Usage) -> float | None:
        table = pricing(name, inner.model_name(request), inner.price_vendor())
        if table is None:
            return None
        return table.cost(usage)

    return price
