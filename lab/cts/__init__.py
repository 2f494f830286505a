"""hblab cts: Heartbeat's Cluster Test Suite (CTS), its R1 tests ported to the lab.

Heartbeat 3.0.6 shipped ``cts/`` (CTStests.py, CM_hb.py, CTSaudits.py, CTSlab.py):
random tests against a running cluster, each judged by log patterns, and after
every test a scan of the logs for bad news and an audit that each resource group
runs on exactly one node. This package runs the tests that apply to the heartbeat
(R1, haresources) cluster manager against a lab, with the same actions, patterns,
bad-news regexes and audit, and timeouts scaled to the lab's timer profile.

What is CTS's and what is ours is kept apart:

* :mod:`~lab.cts.patterns` — CM_hb's R1 patterns and bad-news regexes, the tests'
  own ignore lists, and the timeouts with their scaling (pure);
* :mod:`~lab.cts.logwatch` — CTS's LogWatcher over the nodes' ha-log files;
* :mod:`~lab.cts.cm` — the cluster manager: start, stop, status, isolate, reset,
  on the lab's nodes;
* :mod:`~lab.cts.resources` — haresources' groups, each resource's status and
  remote monitor, and ResourceAudit;
* :mod:`~lab.cts.tests` and :mod:`~lab.cts.special` — the ported tests;
* :mod:`~lab.cts.runner` — RandomTests: the seeded random order, the audits after
  every test, the statistics; :mod:`~lab.cts.command` — the CLI.

docs/cts.md lists the tests ported and left out, every timeout and its scaling,
and the one criterion hbnode replaces (split-brain heal without a restart).
"""
