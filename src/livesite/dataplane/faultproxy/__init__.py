"""The fault proxy: a TCP proxy with Toxiproxy's toxics, driven by a Toxiproxy-compatible API.

::

    api.py      the REST API, route for route Toxiproxy's (create_app)
    service.py  FaultProxy: named proxies and their toxics; toxic TTLs
    wire.py     Toxiproxy's JSON both ways, checked
    proxy.py    one proxy: listener, upstream, toxics, live connections
    link.py     one connection: two sides and a chain of toxic stages per direction
    toxics.py   the toxics, each its attributes and one method (pipe)
    stub.py     what a toxic sees of a stream
    serve.py    run it: config file, API socket, until stopped
"""

from livesite.dataplane.faultproxy.api import create_app
from livesite.dataplane.faultproxy.serve import bind, read_config, serve
from livesite.dataplane.faultproxy.service import FaultProxy
from livesite.dataplane.faultproxy.toxics import TOXICS

__all__ = ["TOXICS", "FaultProxy", "bind", "create_app", "read_config", "serve"]
