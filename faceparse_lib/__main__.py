import sys

from faceparse_lib.cli import main

sys.exit(main())
