"""A real Blynk Python client driven by a test over stdin/stdout.

Usage: blynk_py_client.py LIB HOST PORT TOKEN [CA_FILE]
  LIB is `blynklib` (PyPI blynklib==0.2.6) or `BlynkLib` (PyPI
  blynk-library-python==0.2.0); CA_FILE turns on TLS (blynklib only).

Prints one JSON object per line: {"event": "connected"}, {"event":
"write", "pin": 1, "values": [...]}, {"event": "disconnected"},
{"event": "log", "text": ...}. Reads commands, one per line:
  vw PIN VALUE...   virtual write
  sync [PIN...]     HARDWARE_SYNC (all pins when none given)
  event CODE [TEXT] log an event
  quit
"""

import json
import queue
import sys
import threading
import time

lib, host, port, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ca_file = sys.argv[5] if len(sys.argv) > 5 else None


def say(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def log(*args):
    say(event="log", text=" ".join(str(a) for a in args))


commands = queue.Queue()


def read_stdin():
    for line in sys.stdin:
        commands.put(line.split())
    commands.put(["quit"])


threading.Thread(target=read_stdin, daemon=True).start()

if lib == "blynklib":
    import blynklib

    kwargs = {"server": host, "port": port, "heartbeat": 10, "log": log}
    if ca_file:
        kwargs["ssl_cert"] = ca_file
    blynk = blynklib.Blynk(token, **kwargs)

    @blynk.handle_event("write V*")
    def on_write(pin, values):
        say(event="write", pin=int(pin), values=values)

    @blynk.handle_event("connect")
    def on_connect():
        say(event="connected")

    @blynk.handle_event("disconnect")
    def on_disconnect():
        say(event="disconnected")

    def sync(pins):
        blynk.virtual_sync(*pins)

else:
    import BlynkLib

    blynk = BlynkLib.Blynk(token, server=host, port=port, log=lambda *a: None)

    @blynk.ON("V*")
    def on_write(pin, values):
        say(event="write", pin=int(pin), values=values)

    @blynk.ON("connected")
    def on_connect(*args, **kwargs):
        say(event="connected")

    @blynk.ON("disconnected")
    def on_disconnect(*args, **kwargs):
        say(event="disconnected")

    def sync(pins):
        blynk.sync_virtual(*pins)


while True:
    blynk.run()
    try:
        command = commands.get_nowait()
    except queue.Empty:
        time.sleep(0.01)
        continue
    if not command or command[0] == "quit":
        break
    if command[0] == "vw":
        blynk.virtual_write(int(command[1]), *command[2:])
    elif command[0] == "sync":
        sync([int(p) for p in command[1:]])
    elif command[0] == "event":
        if lib == "blynklib":
            # blynklib 0.2.6 has no log_event: send the EVENT_LOG frame itself.
            blynk.send(blynk._pack_msg(64, *command[1:]))
        else:
            blynk.log_event(*command[1:])
    say(event="done", command=command[0])
