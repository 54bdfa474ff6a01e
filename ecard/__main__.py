"""``python -m ecard``: the operator command line."""

from ecard.cli import main

main()
