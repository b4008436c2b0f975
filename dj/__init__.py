"""The DJ API's own Python code.

The mix domain layer here is pure (no I/O, no clock reads, no randomness):
- ``dj.models.mix``  pydantic models of the stored ``mix:{userId}`` value and its parts
- ``dj.mix_rules``   MixSessionService rules as functions returning new sessions
- ``dj.scoring``     TransitionScorer and the SuggestionEngine's scoring helpers
- ``dj.steering``    vibe steering presets, adjustment parsing and application
- ``dj.autofill``    the pure part of queue auto-fill
Functions that need the time take ``now_ms`` (Unix epoch milliseconds); ids are passed in.
"""
