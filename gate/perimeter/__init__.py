"""Perimeter cameras: people and vehicles around the gate, zones, loitering, circling, intrusion.

What the service wires in (all picklable, all light to import; onnxruntime and supervision are
imported inside the worker process only):

- ``run_perimeter_worker(camera, zones, out_queue, stop_event, settings=..., calendar=...,
  timezone=...)``: the process entry point, one per ``role = "perimeter"`` camera. It puts
  ``PerimeterAlert`` (journal them: same ``id`` = an update of the same alert),
  ``PerimeterHealth`` (every few seconds) and ``PerimeterView`` (annotated JPEG for the console)
  on ``out_queue``.
- ``PlateCircling``: feed it every plate read of every camera (lane and perimeter) in the
  service process; it returns ``circling_vehicle`` alerts.
- ``WatchlistHits``: turns watch-list matches on perimeter cameras (faces from ``head_crop``,
  plates) into ``watchlist_face`` / ``watchlist_plate`` alerts with a cooldown.
- ``PerimeterAlert.to_record()`` gives a ``gate.records.Alert`` for the journal.
"""

from gate.perimeter.alerts import PerimeterAlert, PerimeterHealth, TrackSummary
from gate.perimeter.rules import PlateCircling, WatchlistHits, ZoneRules
from gate.perimeter.worker import PerimeterView, run_perimeter_worker

__all__ = ["PerimeterAlert", "PerimeterHealth", "PerimeterView", "PlateCircling",
           "TrackSummary", "WatchlistHits", "ZoneRules", "run_perimeter_worker"]
