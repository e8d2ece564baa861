"""Alert rules: what an admin asks to be told about, evaluated by beat every tick, and the
emails and signed webhooks that say a rule started firing or resolved."""
