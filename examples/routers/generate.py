"""Write the haproxy.cfg and nginx files a livesite router needs, for N backends.

    python examples/routers/generate.py OUT_DIR stable=127.0.0.1:8001 canary=127.0.0.1:8002 [--listen 127.0.0.1:8080]

writes OUT_DIR/haproxy.cfg (+ OUT_DIR/maps/*.map) and OUT_DIR/nginx.conf (+ OUT_DIR/livesite.conf, the
file the nginx router owns). Check them with `haproxy -c -f OUT_DIR/haproxy.cfg` and
`nginx -t -c OUT_DIR/nginx.conf -p OUT_DIR`. The files next to this script were written for
OUT_DIR=/etc/livesite. Then, in Python:

    HaproxyRouter(layouts(OUT_DIR, backends, listen)[0])      # talks to OUT_DIR/haproxy.sock
    NginxRouter(layouts(OUT_DIR, backends, listen)[1])
"""

from __future__ import annotations

import argparse
from pathlib import Path

from livesite.rollout.routers import HaproxyLayout, NginxLayout, Sticky
from livesite.rollout.routers.haproxy_config import render as render_haproxy
from livesite.rollout.routers.nginx_config import render_conf, render_include


def layouts(root: Path, backends: dict[str, str], listen: str) -> tuple[HaproxyLayout, NginxLayout]:
    sticky = Sticky(header="X-Livesite-Synthetic")  # a fake user keeps one backend
    haproxy = HaproxyLayout(
        socket=root / "haproxy.sock", backends=backends, bind=listen, map_dir=root / "maps", sticky=sticky
    )
    host, _, port = listen.rpartition(":")
    nginx = NginxLayout(
        backends=backends,
        sticky=sticky,
        include_path=root / "livesite.conf",
        conf_path=root / "nginx.conf",
        prefix=root,
        pid_file=root / "nginx.pid",
        state_url=f"http://{host}:{port}/-/livesite",
        access_log=root / "livesite-access.json",
    )
    return haproxy, nginx


def render_all(root: Path, backends: dict[str, str], listen: str) -> dict[str, str]:
    """File name (relative to root) → text."""
    haproxy, nginx = layouts(root, backends, listen)
    files = {"haproxy.cfg": render_haproxy(haproxy)}
    files |= {str(path.relative_to(root)): "" for path in haproxy.route_maps().values()}
    files[str(haproxy.state_file.relative_to(root))] = "1\n"  # saved weights: none yet
    files["livesite.conf"] = render_include(nginx, nginx.initial_weights(), [], 1)
    files["nginx.conf"] = render_conf(nginx, listen=listen)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("backends", nargs="+", help="NAME=HOST:PORT, the first one gets all traffic at start")
    parser.add_argument("--listen", default="127.0.0.1:8080")
    args = parser.parse_args()
    backends = dict(item.split("=", 1) for item in args.backends)
    root = args.out_dir.resolve()
    for name, text in render_all(root, backends, args.listen).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        print(root / name)


if __name__ == "__main__":
    main()
