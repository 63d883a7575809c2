"""`python -m nas <command>` is the same as the `nas` command."""

from nas.cli.main import main

main()
