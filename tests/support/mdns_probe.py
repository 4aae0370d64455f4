"""Find a Hearth hub by mDNS with python-zeroconf, check it, see it leave.

Usage: mdns_probe.py TIMEOUT_SECONDS [EXPECTED_NEW_ADDRESS]
Prints one JSON line per event on stdout:
  {"event": "found", "name", "port", "addresses", "txt", "health"}
      after resolving the first _hearth._tcp.local. instance and fetching
      /api/v1/health from its first IPv4 address with the certificate pinned
      by the TXT "fp" value;
  {"event": "readdressed", "addresses"} (only with EXPECTED_NEW_ADDRESS)
      once the hub announces that address too;
  {"event": "removed", "name"} when its goodbye arrives.
Exits 1 if a step does not happen within TIMEOUT_SECONDS.
"""
import json
import os
import queue
import sys

from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

sys.path.insert(0, os.path.dirname(__file__))
from https_health import get_health  # noqa: E402

SERVICE = "_hearth._tcp.local."


def wait_for_address(zc, name, expected, events, timeout):
    """Re-reads the record until the hub's re-announcement carries `expected`."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = zc.get_service_info(SERVICE, name, timeout=1000)
        if info is not None and expected in info.parsed_addresses():
            print(json.dumps({"event": "readdressed", "addresses": info.parsed_addresses()}), flush=True)
            return
        try:
            events.get(timeout=1.0)  # wake early on any browser event
        except queue.Empty:
            pass
    raise queue.Empty


def main() -> int:
    timeout = float(sys.argv[1])
    events: "queue.Queue[tuple[ServiceStateChange, str]]" = queue.Queue()
    zc = Zeroconf()

    def on_change(zeroconf, service_type, name, state_change):
        events.put((state_change, name))

    ServiceBrowser(zc, SERVICE, handlers=[on_change])
    try:
        name = None
        while name is None:
            state, seen = events.get(timeout=timeout)
            if state in (ServiceStateChange.Added, ServiceStateChange.Updated):
                name = seen
        info = zc.get_service_info(SERVICE, name, timeout=int(timeout * 1000))
        if info is None:
            print(json.dumps({"event": "unresolved", "name": name}), flush=True)
            return 1
        txt = {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()}
        addresses = info.parsed_addresses()
        v4 = [a for a in addresses if ":" not in a]
        health = json.loads(get_health(v4[0], info.port, txt["fp"]))
        print(json.dumps({
            "event": "found", "name": name, "server": info.server, "port": info.port,
            "addresses": addresses, "txt": txt, "health": health,
        }), flush=True)
        if len(sys.argv) > 2:
            wait_for_address(zc, name, sys.argv[2], events, timeout)
        while True:
            state, seen = events.get(timeout=timeout)
            if state == ServiceStateChange.Removed and seen == name:
                print(json.dumps({"event": "removed", "name": name}), flush=True)
                return 0
    except queue.Empty:
        print(json.dumps({"event": "timeout"}), flush=True)
        return 1
    finally:
        zc.close()


if __name__ == "__main__":
    sys.exit(main())
