"""hbnode: a Heartbeat 3.0.6-compatible failover node daemon.

A "§N.M" in a comment or docstring of this package, of the lab or of the tests
points to that section of docs/protocol.md, our reading of Heartbeat 3.0.6.
"""

__version__ = "0.1.0"
# What we report where Heartbeat reports its own version (cl_status hbstatus -v).
HB_COMPAT_VERSION = "3.0.6"
