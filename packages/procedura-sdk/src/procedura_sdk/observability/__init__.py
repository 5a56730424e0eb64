"""Observability layer: redaction and the recording of every command (events, errors, state, logs)."""

from .event_log import EventLog, EventLogError
from .json_array import JsonArrayError, JsonArrayFile
from .paths import DataPaths
from .record import SCHEMA_VERSION, EventRecord, error_entry, is_failure, utc_now_iso
from .recorder import Recorder, RecordingWarning
from .redaction import REDACTED, Redactor, default_redactor, is_sensitive_key

__all__ = [
    "REDACTED",
    "SCHEMA_VERSION",
    "DataPaths",
    "EventLog",
    "EventLogError",
    "EventRecord",
    "JsonArrayError",
    "JsonArrayFile",
    "Recorder",
    "RecordingWarning",
    "Redactor",
    "default_redactor",
    "error_entry",
    "is_failure",
    "is_sensitive_key",
    "utc_now_iso",
]
