"""Sparkplug B (MQTT) support, issue 17's second part: so far the payload codec (drivers.sparkplug.payload)."""
