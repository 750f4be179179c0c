"""Every command the README shows parses against the real CLI: names, options and arguments.

The paths they use after the quickstart are checked by the end-to-end quickstart test.
"""

import click
import pytest

from serving.cli import main as serve_main
from tests.readme_commands import DocumentedCommand, documented_commands
from training.cli import main as listingguard_main

PROGRAMS: dict[str, click.Command] = {
    "listingguard": listingguard_main,
    "listingguard-serve": serve_main,
}
COMMANDS = documented_commands()


def parse(command: click.Command, name: str, args: list[str]) -> None:
    """Parse ``args`` as click would, down to the leaf subcommand, without running anything."""
    context = command.make_context(name, list(args))
    if isinstance(command, click.Group):
        remaining = [*getattr(context, "_protected_args", []), *context.args]
        if remaining:
            sub_name, sub, rest = command.resolve_command(context, remaining)
            assert sub is not None and sub_name is not None
            parse(sub, sub_name, rest)


def test_the_readme_documents_the_main_commands() -> None:
    documented = {(c.program, c.args[0] if c.args else "") for c in COMMANDS}
    for expected in [
        ("listingguard", "quickstart"),
        ("listingguard", "train"),
        ("listingguard", "evaluate"),
        ("listingguard-serve", "--bundle"),
    ]:
        assert expected in documented, expected


@pytest.mark.parametrize("command", COMMANDS, ids=[c.line[:60] for c in COMMANDS])
def test_a_documented_command_parses(command: DocumentedCommand) -> None:
    try:
        parse(PROGRAMS[command.program], command.program, command.args)
    except click.UsageError as error:
        pytest.fail(f"README: {command.line}\n  {error.format_message()}")
