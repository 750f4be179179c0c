"""Entry point of the ``listingguard`` console script.

Both console scripts ship in one distribution, but ``listingguard`` needs the ``[train]`` extra:
in a serving-only install it says so in one line instead of failing with a traceback.
"""

import sys


def main() -> None:
    try:
        from training.cli import main as cli_main
    except ImportError as error:
        missing = error.name or "a training dependency"
        sys.exit(
            f"listingguard: {missing} is not installed; the offline tools need the train "
            "extra: pip install 'listingguard[train]'"
        )
    cli_main()
