"""hblab soak: alternating poweroff/poweron cycles, measured, then a leak check.

Pure parts (the outage distribution in :mod:`~lab.soak.stats`, the snapshot diff in
:mod:`~lab.soak.leaks`) are unit-tested without root; :mod:`~lab.soak.cycle` drives
the lab (reusing the bench's waits and the client probes) and :mod:`~lab.soak.command`
is the CLI.
"""
