"""`llmproc init [PATH]`: write a starter program, every line explained in a comment.

The text is validated as a program before it is written, so what `init` leaves behind loads;
an existing file is kept unless --force.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from llmproc.cli.common import InputError
from llmproc.cli.models import check_model, credentials, default_model, providers, resolve_provider

DEFAULT_PATH = "program.toml"

TEMPLATE = '''\
# {name}: an llmproc program, written by `llmproc init`. Lines starting with # are comments.
#   llmproc {shell_path} -p "Hello"     one prompt; the answer on stdout
#   llmproc-demo {shell_path}           a conversation in the terminal
#   llmproc-prompt {shell_path}         what the model is told, without calling it
# Every key a program may hold: `llmproc schema`, or examples/reference.toml in the llmproc repository.

[model]
# The model, as its provider names it.
name = {model}
# The API that serves it: {providers}.
# {credentials}
provider = {provider}

[prompt]
# What the model is told before every conversation (or system_prompt_file = "prompt.md").
system_prompt = """
You are a helpful assistant. Answer briefly and say when you are not sure.
"""

[parameters]
# The longest answer, in tokens.
max_tokens = 4096
# How varied the answers are, 0 to 2; unset, the provider's default.
# temperature = 0.7

[tools]
# Built-in tools the model may call. Uncomment to let it compute, and read the files under
# this folder (allowed_roots; paths are relative to this file).
# enabled = ["calculator", "read_file", "list_dir", "glob", "grep"]
# allowed_roots = ["."]
'''


def credentials_line(provider: str) -> str:
    needs = credentials(provider)
    if needs is None:
        return f"{provider} runs offline, without a key: with no replies listed it echoes your message."
    return f"{provider} needs {needs} in the environment or in a .env file next to this file."


def render(path: Path, model: str, provider: str) -> str:
    # json.dumps gives a TOML basic string: the same quotes and escapes.
    return TEMPLATE.format(name=path.name, shell_path=shlex.quote(str(path)), model=json.dumps(model),
                           provider=json.dumps(provider), credentials=credentials_line(provider),
                           providers=" | ".join(providers()))


@click.command("init", short_help="Write a starter program file, every line explained.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(dir_okay=True))
@click.option("-m", "--model", help="The model (default: one the provider serves; claude-sonnet-5-5 without --provider).")
@click.option("--provider", metavar="NAME", help="The provider (default: inferred from --model, else anthropic).")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init_command(path: str, model: str | None, provider: str | None, force: bool) -> int:
    """Write a starter program to PATH (default program.toml; a directory gets a program.toml)."""
    target = Path(path)
    if target.is_dir():
        target = target / DEFAULT_PATH
    if model is not None:
        model = check_model(model)
        provider = resolve_provider(model, provider)
    else:
        provider = resolve_provider("", provider or "anthropic")
        model = default_model(provider)
    if target.exists() and not force:
        raise InputError(f"{target} exists; overwrite it with --force, or give another PATH")
    text = render(target, model, provider)
    _check_loads(text)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    shown = shlex.quote(str(target))
    click.echo(f"wrote {target}: {model} ({provider}), a system prompt, no tools yet", err=True)
    needs = credentials(provider)
    click.echo(f"set {needs} (or put it in a .env file), then run:" if needs else "run:", err=True)
    click.echo(f'  llmproc {shown} -p "Hello"', err=True)
    click.echo(f"  llmproc-demo {shown}", err=True)
    return 0


def _check_loads(text: str) -> None:
    """Parse and validate the text as a program before writing it: a model name that TOML or the
    schema rejects is one `error:` line, not a file that fails later. (Nothing in it is a path.)"""
    import tomllib

    from llmproc.program import LLMProgram

    LLMProgram.from_dict(tomllib.loads(text))
