"""A device on PyPI paho-mqtt, driven by a test over stdin/stdout.

Usage: mqtt_device.py HOST PORT USERNAME PASSWORD [PREFIX]
Prints JSON lines: {"event": "connected", "rc": N}, {"event": "message",
"topic": ..., "payload": ...}, {"event": "suback", "codes": [...]},
{"event": "acked", "mid": N, "value": ...}, {"event": "disconnected"}.
Commands on stdin, one per line:
  pub TOPIC QOS PAYLOAD      publish (PAYLOAD may be empty)
  pubwait TOPIC PAYLOAD      publish at QoS 1 and wait for the PUBACK
  sub FILTER                 subscribe
  count TOPIC N START        publish values START..START+N-1 at QoS 1, up
                             to 100 in flight, printing each acknowledged
                             value; "done" once all are acknowledged or none
                             was for 10 s
  quit
"""

import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt

host, port, username, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
prefix = sys.argv[5] if len(sys.argv) > 5 else ""


def say(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


if os.environ.get("MQTT_PROTOCOL") == "5":
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
else:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
client.username_pw_set(username, password)


def on_connect(c, userdata, flags, reason_code, properties):
    say(event="connected", rc=reason_code.value if hasattr(reason_code, "value") else int(reason_code))
    if not reason_code.is_failure:
        c.subscribe(prefix + "downlink/#", qos=0)


def on_message(c, userdata, msg):
    say(event="message", topic=msg.topic, payload=msg.payload.decode("utf-8", "replace"))


def on_subscribe(c, userdata, mid, reason_codes, properties):
    say(event="suback", codes=[rc.value for rc in reason_codes])


def on_disconnect(c, userdata, flags, reason_code, properties):
    say(event="disconnected", rc=reason_code.value if hasattr(reason_code, "value") else 0)


lock = threading.Lock()
waiting = {}


early = set()


def on_publish(c, userdata, mid, reason_code, properties):
    # Never hold `lock` while calling into paho (its own locks): no deadlock.
    with lock:
        value = waiting.pop(mid, None)
        if value is None:
            early.add(mid)
    if value is not None:
        say(event="acked", value=value)


client.on_publish = on_publish
client.max_inflight_messages_set(100)
client.max_queued_messages_set(0)
client.on_connect = on_connect
client.on_message = on_message
client.on_subscribe = on_subscribe
client.on_disconnect = on_disconnect
client.connect(host, port, keepalive=30)
client.loop_start()

for line in sys.stdin:
    words = line.rstrip("\n").split(" ", 3)
    if words[0] == "quit":
        break
    if words[0] == "pub":
        payload = words[3] if len(words) > 3 else ""
        client.publish(prefix + words[1], payload.replace("\\0", "\0"), qos=int(words[2]))
    elif words[0] == "pubwait":
        rest = line.rstrip("\n").split(" ", 2)
        info = client.publish(prefix + rest[1], rest[2] if len(rest) > 2 else "", qos=1)
        info.wait_for_publish(timeout=10)
    elif words[0] == "sub":
        client.subscribe(words[1], qos=0)
    elif words[0] == "count":
        # Many in flight at once (paho's window), so PUBACKs race commits.
        topic, n, start = words[1], int(words[2]), int(words[3])
        for value in range(start, start + n):
            info = client.publish(prefix + topic, str(value), qos=1)
            with lock:
                acked_early = info.mid in early
                if acked_early:
                    early.discard(info.mid)
                else:
                    waiting[info.mid] = value
            if acked_early:
                say(event="acked", value=value)
        last, seen = time.time(), -1
        while time.time() - last < 10:
            with lock:
                left = len(waiting)
            if left == 0:
                break
            if left != seen:
                last, seen = time.time(), left
            time.sleep(0.05)
    say(event="done", command=words[0])

client.loop_stop()
client.disconnect()
