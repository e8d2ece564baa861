"""A job type on its own broker queue, for the tests of queue routing: `simulate` under
another name whose requests go to the queue `volumes-test`. Loaded by JOB_TYPE_MODULES in
the processes a test starts (dispatcher, workers) and registered in the test's own app."""
import dataclasses

from dashboard.jobs import simulate

QUEUE = "volumes-test"
JOB_TYPES = [dataclasses.replace(simulate.SIMULATE, name="simulate_volumes",
                                 title="Simulate on the volumes queue", queue=QUEUE)]
