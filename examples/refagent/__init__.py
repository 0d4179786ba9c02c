"""tare-refagent: a reference host firewall agent, the system under test of tare's quick start.

It behaves like a real enforcement node: a daemon that holds a policy, programs the kernel
firewall (nftables) of the network namespace it runs in, keeps it in sync, and reports. It is
an example and a demo, not part of tare's core: tare measures it like any other agent.
"""

__version__ = "1.0.0"
