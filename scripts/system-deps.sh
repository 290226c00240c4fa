#!/usr/bin/env bash
# Installs the Debian packages that the integration tests and benchmarks run for real.
# As root it installs what is missing; otherwise it lists what to install and carries on.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ]; }
have nginx /usr/sbin/nginx || need+=(nginx-light)
have prometheus /usr/bin/prometheus || need+=(prometheus)
have prometheus-blackbox-exporter /usr/bin/prometheus-blackbox-exporter || need+=(prometheus-blackbox-exporter)
have initdb /usr/lib/postgresql/15/bin/initdb || need+=(postgresql)
have dnsmasq /usr/sbin/dnsmasq || need+=(dnsmasq-base)
have haproxy /usr/sbin/haproxy || need+=(haproxy)
have redis-server /usr/bin/redis-server || need+=(redis-server)
have socat /usr/bin/socat || need+=(socat)
have chromium /usr/bin/chromium || need+=(chromium)
have wrk /usr/bin/wrk || need+=(wrk)
have linkchecker /usr/bin/linkchecker || need+=(linkchecker)
have nft /usr/sbin/nft || need+=(nftables)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: not root; install these Debian packages for the integration tests: ${need[*]}" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
