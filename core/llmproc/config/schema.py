"""The program-file schema: every section and key a program may contain.

This is the only pydantic layer for program input. Every model forbids unknown keys so that a
typo is an error, not a silently ignored setting. `loader.py` turns validation errors into
`ProgramConfigError`s naming the file and the dotted key. `llmproc schema` prints the JSON
Schema generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PROVIDERS = ("anthropic", "anthropic_vertex", "openai", "openai_chat", "gemini", "gemini_vertex", "scripted")
ENV_INFO_VARIABLES = ("working_directory", "platform", "date", "python_version", "hostname", "username")

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    # strict: "yes" is not a bool and "5" is not an int; a program file should say what it means.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ScriptedToolCall(Strict):
    name: str
    arguments: dict[str, Any] = {}


class ScriptedReply(Strict):
    """One reply of the offline `scripted` provider."""

    text: str | None = None
    tool_calls: list[ScriptedToolCall] = []
    thinking: str | None = None
    delay: float = Field(default=0.0, ge=0, description="Seconds the reply takes (a slow model, offline).")


class ModelSection(Strict):
    name: str = Field(min_length=1, description="Model name as the provider knows it.")
    provider: Literal[PROVIDERS] = Field(description="Which API serves the model.")  # type: ignore[valid-type]
    base_url: str | None = Field(default=None, description="OpenAI-compatible or proxy endpoint; overrides the SDK env var.")
    display_name: str | None = None
    project_id: str | None = Field(default=None, description="Vertex: GCP project (else ANTHROPIC_VERTEX_PROJECT_ID "
                                   "for anthropic_vertex, GOOGLE_CLOUD_PROJECT for gemini_vertex).")
    region: str | None = Field(default=None, description="Vertex: region (else CLOUD_ML_REGION; "
                               "GOOGLE_CLOUD_LOCATION first for gemini_vertex).")
    replies: list[str | ScriptedReply] = Field(
        default=[], description="scripted provider: replies in order; with none it echoes the user's message.")


class PromptSection(Strict):
    system_prompt: str | None = None
    system_prompt_file: str | None = Field(default=None, description="Path relative to the program file.")
    user: str | None = Field(default=None, description="An initial user message sent when the process starts a run.")

    @model_validator(mode="after")
    def _one_source(self) -> PromptSection:
        if self.system_prompt is not None and self.system_prompt_file is not None:
            raise ValueError("give system_prompt or system_prompt_file, not both")
        return self


class ParametersSection(Strict):
    max_tokens: PositiveInt | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    thinking_budget: Annotated[int, Field(ge=1024)] | None = Field(
        default=None, description="Claude extended thinking budget in tokens (>= 1024, below max_tokens).")
    stream: bool | None = Field(default=None, description="Stream model output (the CLIs stream by default).")
    disable_automatic_caching: bool = Field(
        default=False, description="Turn off Anthropic prompt-cache breakpoints (on by default).")
    max_retries: NonNegativeInt | None = Field(
        default=None, description="Retries of a failed model call (429, 5xx, overloaded, dropped connection); default 3.")
    retry_initial_delay_s: PositiveFloat | None = Field(
        default=None, description="First backoff delay, doubled on each retry; default 0.5.")
    retry_max_delay_s: PositiveFloat | None = Field(default=None, description="Longest backoff delay; default 8.")
    retry_after_max_s: PositiveFloat | None = Field(
        default=None, description="Longest Retry-After honoured; a server asking for more fails at once. Default 60.")
    request_timeout_s: PositiveFloat | None = Field(
        default=None, description="Seconds a model call may go without receiving data (also the connect limit) "
        "before it times out and is retried; default 120 (connect: 5).")
    extra: dict[str, Any] = Field(default={}, description="Passed through to the provider SDK call unchanged.")
    extra_headers: dict[str, str] = Field(
        default={}, description="HTTP headers sent with every model request, e.g. anthropic-beta for a beta feature.")

    @model_validator(mode="after")
    def _budget_below_max(self) -> ParametersSection:
        if self.thinking_budget and self.max_tokens and self.thinking_budget >= self.max_tokens:
            raise ValueError(f"thinking_budget ({self.thinking_budget}) must be below max_tokens ({self.max_tokens})")
        return self


class PreloadSection(Strict):
    files: list[str] = Field(default=[], description="Files put into the system prompt (paths relative to the program).")


class EnvInfoSection(Strict):
    variables: list[Literal[ENV_INFO_VARIABLES]] | Literal["all"] = []  # type: ignore[valid-type]
    env_vars: dict[str, str] = Field(default={}, description="label = ENV_VAR_NAME: environment variables to show.")


class ToolEntry(Strict):
    name: str
    alias: str | None = None
    description: str | None = None


class McpToolEntry(Strict):
    name: str
    alias: str | None = None
    description: str | None = None


class ToolsSection(Strict):
    enabled: list[str | ToolEntry] = []
    allowed_roots: list[str] = Field(default=[], description="Roots file tools may read (default: the working directory).")
    mcp: dict[str, Literal["all"] | list[str | McpToolEntry]] = Field(
        default={}, description="server = 'all' | [tool names]: which MCP tools this program sees.")


class StdioServer(Strict):
    command: str
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None


class HttpServer(Strict):
    url: str
    type: Literal["http", "sse"] = Field(default="http", description="http: streamable HTTP; sse: the legacy "
                                         "HTTP+SSE transport of older servers (url is their SSE endpoint).")
    headers: dict[str, str] = {}
    bearer_token_env: str | None = Field(default=None, description="Environment variable holding a bearer token.")


class McpSection(Strict):
    config_path: str | None = Field(default=None, description="mcpServers JSON file (Claude Desktop / .mcp.json format).")
    servers: dict[str, StdioServer | HttpServer] = {}
    call_timeout_s: PositiveFloat = 60.0
    resources: bool = Field(default=False, description="Offer the servers' resources to the model through "
                            "the tools list_mcp_resources and read_mcp_resource.")


class LinkedProgramEntry(Strict):
    path: str
    description: str = ""


class FileDescriptorSection(Strict):
    enabled: bool = False
    max_direct_output_chars: PositiveInt = 8000
    default_page_size: PositiveInt = 4000
    max_input_chars: PositiveInt = 8000
    page_user_input: bool = False
    enable_references: bool = False


class LimitsSection(Strict):
    max_turns: PositiveInt = 50
    max_cost_usd: PositiveFloat | None = None
    max_depth: NonNegativeInt = 3
    max_children: NonNegativeInt = 10
    max_processes_per_tree: PositiveInt = Field(
        default=100, description="Processes one tree may hold, the top-level process included (spawn and fork "
        "beyond it are refused).")
    max_model_calls_per_run: PositiveInt = Field(
        default=500, description="Model calls the whole tree may make in one top-level run; the run stops "
        "with BudgetExceeded when they are used up.")
    timeout_s: PositiveFloat | None = None
    requests_per_minute: PositiveInt | None = Field(
        default=None, description="Model requests per minute on this program's provider account, shared by "
        "every process of the event loop; for servers that announce no limits in their headers.")
    input_tokens_per_minute: PositiveInt | None = Field(
        default=None, description="Input tokens per minute on this program's provider account (estimated as "
        "request bytes / 4), shared like requests_per_minute.")


class DemoSection(Strict):
    prompts: list[str] = []
    pause_between_prompts: bool = True
    display_name: str | None = None


class ProgramConfig(Strict):
    """A whole program file."""

    model: ModelSection
    prompt: PromptSection = PromptSection()
    parameters: ParametersSection = ParametersSection()
    preload: PreloadSection = PreloadSection()
    env_info: EnvInfoSection = EnvInfoSection()
    tools: ToolsSection = ToolsSection()
    mcp: McpSection | None = None
    linked_programs: dict[str, str | LinkedProgramEntry] = {}
    file_descriptor: FileDescriptorSection = FileDescriptorSection()
    limits: LimitsSection = LimitsSection()
    demo: DemoSection = DemoSection()


def json_schema() -> dict[str, Any]:
    schema = ProgramConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "llmproc program"
    return schema
