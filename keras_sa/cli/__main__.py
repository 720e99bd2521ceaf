"""``python -m keras_sa.cli``: the ``keras-sa`` command."""

import sys

from keras_sa.cli import main

sys.exit(main())
