"""Make the partner slow for 30 seconds with an unchanged Toxiproxy client (toxiproxy-python).

    livesite chaos proxy --config examples/fault-proxy/proxies.json &
    python examples/fault-proxy/slow_partner.py            # API at 127.0.0.1:8474, or FAULT_PROXY_API

The toxic carries a ``ttl`` among its attributes (the only place a Toxiproxy client can put it), so
it goes away after 30 s even if this script, or whoever ran it, is gone by then.
"""

from __future__ import annotations

import os

from toxiproxy import Toxiproxy


def main() -> None:
    host, port = os.environ.get("FAULT_PROXY_API", "127.0.0.1:8474").rsplit(":", 1)
    server = Toxiproxy()
    server.update_api_consumer(host, int(port))
    partner = server.get_proxy("partner")
    if partner is None:
        raise SystemExit(
            "no proxy named partner: start livesite chaos proxy with examples/fault-proxy/proxies.json"
        )
    partner.add_toxic(
        type="latency", name="slow_partner", attributes={"latency": 300, "jitter": 50, "ttl": "30s"}
    )
    print(f"partner at {partner.listen} answers 300 ± 50 ms slower for 30 s")


if __name__ == "__main__":
    main()
