"""``python -m udb`` is the ``udb`` command."""

from udb.cli import main

if __name__ == "__main__":
    main()
