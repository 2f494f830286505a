"""``python -m hbnode.tools.hb_standby``."""

import sys

from hbnode.tools.standby import standby_main

if __name__ == "__main__":
    sys.exit(standby_main())
