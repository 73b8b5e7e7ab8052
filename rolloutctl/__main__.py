"""`python -m rolloutctl` and the `rolloutctl` console script."""

from rolloutctl.cli.core import main

if __name__ == "__main__":
    main()
