/// The safetensors container: an 8-byte little-endian header length, a JSON header, raw tensor data.
public enum SafetensorsFormat {}
