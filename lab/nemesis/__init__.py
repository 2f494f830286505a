"""hblab nemesis: seeded random fault schedules, one recorded timeline, a checker.

* :mod:`~lab.nemesis.schedule` — the faults, a schedule as data (JSON that
  replays), and the seeded generator (pure);
* :mod:`~lab.nemesis.play` — carries out a schedule's steps on a lab;
* :mod:`~lab.nemesis.recorder` — samples the lab into one timeline: the VIP's
  holders (netlink), who answers ARP, the client's HTTP probes, processes, each
  daemon's own view, the log lines;
* :mod:`~lab.nemesis.checker` — the invariants over a timeline (pure);
* :mod:`~lab.nemesis.shrink` — a failing schedule cut down to a minimal one;
* :mod:`~lab.nemesis.runner`, :mod:`~lab.nemesis.command` — one run in a fresh
  lab, and the CLI.

docs/nemesis.md states the invariants and each fault class's bound.
"""
