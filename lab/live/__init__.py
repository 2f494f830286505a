"""The lab watched live: one state model, shown by `hblab web` and `hblab watch`.

lab.live.collector builds a :class:`~lab.live.model.Snapshot` of the lab several
times a second from the same sources the bench uses (the nodes' logs, netlink in
each node's namespace, packet sockets on eth1 and the client's eth0, an HTTP probe
from the client); lab.live.record saves that stream and plays it back; the web page
(lab.live.web) and the terminal view (lab.live.term) draw it.
"""
