"""The commands the README documents, parsed from its ``bash`` blocks."""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO_ROOT

_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
PROGRAMS = (".venv/bin/listingguard", ".venv/bin/listingguard-serve")


@dataclass(frozen=True)
class DocumentedCommand:
    program: str
    args: list[str]
    line: str

    def option(self, name: str) -> str | None:
        if name in self.args and self.args.index(name) + 1 < len(self.args):
            return self.args[self.args.index(name) + 1]
        return None


def documented_commands(readme: Path = REPO_ROOT / "README.md") -> list[DocumentedCommand]:
    """Every ``listingguard`` / ``listingguard-serve`` invocation in a bash block, in order."""
    commands = []
    for block in _BLOCK.findall(readme.read_text(encoding="utf-8")):
        joined = block.replace("\\\n", " ")
        for raw in joined.splitlines():
            line = raw.split(" #", 1)[0].strip()
            for part in re.split(r"\s*(?:&&|\|\|)\s*", line):
                words = shlex.split(part) if part and not part.startswith("#") else []
                if words and words[0] in PROGRAMS:
                    program = words[0].rsplit("/", 1)[1]
                    commands.append(DocumentedCommand(program, words[1:], part))
    return commands
