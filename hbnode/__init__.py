"""hbnode: a Heartbeat 3.0.6-compatible failover node daemon."""

__version__ = "0.1.0"
# What we report where Heartbeat reports its own version (cl_status hbstatus -v).
HB_COMPAT_VERSION = "3.0.6"
