"""Perimeter cameras: people and vehicles around the gate, zones, loitering, circling, intrusion.

The package is self-contained: the service starts one ``run_perimeter_worker`` process per
``role = "perimeter"`` camera and journals the ``PerimeterAlert`` records it sends back.
Heavy imports (onnxruntime, supervision) stay in the modules that need them, so importing
the alert record or the pure rules costs nothing.
"""

from gate.perimeter.alerts import PerimeterAlert, PerimeterHealth, TrackSummary

__all__ = ["PerimeterAlert", "PerimeterHealth", "TrackSummary"]
