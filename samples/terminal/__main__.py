import sys

from samples.terminal.cli import main

sys.exit(main())
