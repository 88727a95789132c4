"""Serial RFID card readers: pure frame parsers and the port-handling reader thread.

Knows nothing of the gate service: it turns bytes on a serial line into card reads.
"""
