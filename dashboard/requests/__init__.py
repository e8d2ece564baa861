"""Requests as operators act on them and read them: actions, bulk, the list, timeline, why, notices, retention."""
