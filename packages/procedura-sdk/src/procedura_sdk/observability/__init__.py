"""Observability layer: redaction and the recording of every command (events, errors, state, logs)."""

from .record import SCHEMA_VERSION, EventRecord, utc_now_iso
from .recorder import Recorder, RecordingWarning

__all__ = ["SCHEMA_VERSION", "EventRecord", "Recorder", "RecordingWarning", "utc_now_iso"]
