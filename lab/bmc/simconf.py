"""The files one ``ipmi_sim`` runs from: its lan.conf and its start-up commands.

OpenIPMI's ipmi_sim is a real BMC's software without the board: an IPMI 1.5/2.0
LAN server with users, sessions and authentication. What it lacks is a chassis,
so its ``chassis_control`` program is told every power command and asked for the
power state (``PROG get power`` → ``power:1``; ``PROG set power 0|1``,
``PROG set reset 1``; a power cycle is ``set power 0`` and, one second later,
``set power 1``). The lab's program is :file:`lab/assets/bmc-chassis`: it hands
the command to the power agent and answers the state the agent keeps.
"""

from __future__ import annotations

from pathlib import Path

from lab.bmc import IPMI_PASSWORD, IPMI_USER

CHASSIS_PROGRAM = Path(__file__).resolve().parent.parent / "assets" / "bmc-chassis"
IPMI_PORT = 623
BMC_ADDR = "0x20"  # the IPMB address of a BMC


def lan_conf(name: str, address: str, bmc_dir: Path) -> str:
    """One BMC: LAN channel 1 on ``address``:623, an admin user, the lab's chassis."""
    auths = "md2 md5 straight"  # no "none": a fence must know the password
    return "\n".join(
        [
            f"# lan.conf of {name}, written by hblab (lab.bmc.simconf)",
            f'name "{name}"',
            f"set_working_mc {BMC_ADDR}",
            "  startlan 1",
            f"    addr {address} {IPMI_PORT}",
            "    priv_limit admin",
            f"    allowed_auths_callback {auths}",
            f"    allowed_auths_user {auths}",
            f"    allowed_auths_operator {auths}",
            f"    allowed_auths_admin {auths}",
            # RMCP+ (lanplus) needs a GUID; any fixed one will do.
            "    guid a123456789abcdefa123456789abcdef",
            "  endlan",
            f'  chassis_control "{CHASSIS_PROGRAM} {bmc_dir}"',
            # user number, enabled, name, password, max privilege, max sessions, auths
            f'  user 2 true "{IPMI_USER}" "{IPMI_PASSWORD}" admin 10 {auths}',
            "",
        ]
    )


def startup_commands() -> str:
    """ipmi_sim starts empty: add the BMC as a management controller and enable it."""
    return "\n".join(
        [
            f"mc_setbmc {BMC_ADDR}",
            # mc_add addr channel sdrs device-id revision fw-major fw-minor dev-support
            f"mc_add {BMC_ADDR} 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02",
            f"mc_enable {BMC_ADDR}",
            "",
        ]
    )
