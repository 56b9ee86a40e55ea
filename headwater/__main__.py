"""`python -m headwater` is the `headwater` command (used to start child components)."""

from headwater.cli import main

main()
