"""Workers and processes: control, inspection, stored pauses, supervisord, Flower links."""
