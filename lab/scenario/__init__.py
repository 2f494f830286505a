"""Scenario files: a cluster's behaviour written down as data, and checked on a lab.

    hblab run FILE… [--junit FILE] [--observe]

A scenario names the lab it needs (``lab:``), what to do to it (``steps:``) and
what must then be true (``expect:`` tied to a step or to the end; ``check:`` for a
lab someone else drove, as ``--observe`` does). The measurements reuse the bench's
watchers (lab.bench.watchers, lab.probes) and the wire trace (lab.wiretrace), so a
scenario and ``make bench`` measure the same way. docs/scenarios.md is the format.

  duration  ``deadtime + 2s`` and friends
  schema    the file's shape (jsonschema)
  model     what a file says, as typed data
  load      file → model, every problem as ``file:line``
  record    the watchers of one run
  actions   doing a step on the lab
  checks    judging an expectation
  runner    a whole file on a lab: up, steps, checks, down
  report    the human table and JUnit XML
  lessons   docs/lessons: list them, bring a lesson's lab up
  command   ``hblab run``, ``hblab lessons``, ``hblab forge``
"""
