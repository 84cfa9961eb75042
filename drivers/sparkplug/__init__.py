"""MQTT Sparkplug B: payload codec, host rules, MQTT client, the connection's loop and backend, writes, discovery,
and an edge node simulator (`manage.py sparkplugsim`). docs/drivers.md describes it for engineers."""
