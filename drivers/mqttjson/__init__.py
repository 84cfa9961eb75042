"""Plain MQTT with JSON payloads (protocol "mqtt_json"): a tag per topic filter and JSON path, read-only.

For devices that publish JSON rather than Sparkplug B. docs/drivers.md describes it for engineers.
"""
