"""ACME's job types for the request dashboard: `checksum` (a file) and `primes` (parameters).

The dashboard loads them through the entry points in pyproject.toml. Code that is
not packaged can be loaded instead with JOB_TYPE_MODULES=acme_jobs, which reads
JOB_TYPES here.
"""
from acme_jobs.checksum import CHECKSUM
from acme_jobs.primes import PRIMES

JOB_TYPES = [CHECKSUM, PRIMES]
