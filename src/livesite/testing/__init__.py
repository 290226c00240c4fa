"""The test kit livesite ships: a fake clock, a target server with faults you control, real servers
started on 127.0.0.1 (nginx, dnsmasq) and the store conformance suite."""

from livesite.testing.clock import FakeClock
from livesite.testing.servers import Dnsmasq, Nginx, make_pki
from livesite.testing.store_conformance import check_store
from livesite.testing.target import TargetServer

__all__ = ["Dnsmasq", "FakeClock", "Nginx", "TargetServer", "check_store", "make_pki"]
