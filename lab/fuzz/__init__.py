"""`hblab fuzz` and `hblab flood`: bad datagrams at a running hbnode, and the accounting.

templates  real-looking messages built with scapy (the lab's Heartbeat layer), the
           golden capture, and packets captured from the running cluster
corpus     the seeded generator: categories of bad datagrams, mutators
sender     a paced sender through a kernel UDP socket opened inside a lab namespace
observe    counters, PSS/CPU, kernel UDP drops, logs and holders of the lab
runner     one run: lab up, capture, before, send, after, lab down
report     the accounting (sent = counted by hbnode + kernel drops) and the table
command    the argparse side of both subcommands
"""
