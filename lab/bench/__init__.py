"""hblab bench and hblab report: failover measured side by side, and drawn.

Pure parts (statistics, tables, JSON, timeline data) are kept apart from the parts
that drive the lab (runner, watchers, idle) and from the drawing (plot, topodraw),
so they can be unit-tested without root or a lab.
"""
