"""The command line: click commands, options, output, exit codes."""

from avrgen.cli.main import main

__all__ = ["main"]
