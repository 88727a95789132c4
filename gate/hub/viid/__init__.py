"""GA/T 1400 (视图库): the district hub as a lower-level platform towards a police station's
upper platform (``gate hub viid``), and a simulator of that upper platform (``gate hub viid-sim``).

Pure parts (``ids``, ``objects``, ``digest``, ``mapping``) are apart from I/O (``client``,
``outbox``, ``gateway``, ``downward``, ``simulator``) so they are tested fast.
"""
