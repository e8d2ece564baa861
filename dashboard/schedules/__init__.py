"""Schedules: the operators' own (validation, reads, writes), beat's scheduler, the built-in tasks' record, fire times."""
