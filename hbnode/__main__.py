import sys

from hbnode.cli import main

sys.exit(main())
