"""``python -m hbnode.tools.hb_takeover``."""

import sys

from hbnode.tools.standby import takeover_main

if __name__ == "__main__":
    sys.exit(takeover_main())
