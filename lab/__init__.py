"""hblab: a two-node Heartbeat lab in network namespaces (and containers)."""
