"""`python -m keras_daam` runs the `keras-daam` command line."""

import sys

from keras_daam.cli import main

if __name__ == "__main__":
    sys.exit(main())
