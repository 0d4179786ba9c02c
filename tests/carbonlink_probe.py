"""Which cache graphite-web asks for each series: run by Graphite's own interpreter with the
stack's settings, reading series names on stdin and printing ``instance`` per line.

It calls graphite-web's own CarbonLink pool (its hash ring, its key function, its
CARBONLINK_HOSTS), so what it prints is what graphite-web does when it renders.
"""

import sys

import django

django.setup()

from graphite.readers.utils import CarbonLink  # noqa: E402

pool = CarbonLink()
for line in sys.stdin:
    name = line.strip()
    if name:
        server, instance = pool.select_host(name)
        print(instance)
