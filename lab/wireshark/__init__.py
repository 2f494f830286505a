"""Wireshark and tshark for the lab: the Heartbeat dissector and the commands around it.

heartbeat.lua  the dissector itself (Wireshark's Lua API), shipped with the package
plugin         where it is, where Wireshark looks for personal plugins, installing it
tshark         running tshark with it: `hblab dump --tshark`, and field extraction
"""
