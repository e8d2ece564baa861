"""`checksum`: the SHA-256 digest and size of the uploaded file, read in chunks."""
import hashlib
import os

from dashboard.jobs import JobType

CHUNK = 1024 * 1024

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {},
}


def run(ctx):
    """Hash the request's file chunk by chunk, reporting progress; the result is the digest."""
    with ctx.file_path() as path:
        size = os.path.getsize(path)
        ctx.log(f"hashing {size} bytes")
        digest, done = hashlib.sha256(), 0
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                done += len(chunk)
                ctx.progress(100 * done / size)
    ctx.log(f"sha256 {digest.hexdigest()}")
    return {"sha256": digest.hexdigest(), "size": size}


CHECKSUM = JobType(
    name="checksum",
    title="Checksum (SHA-256 of a file)",
    description="The SHA-256 digest and size in bytes of the file you upload.",
    schema=SCHEMA,
    run=run,
    file="required",
    soft_limit_s=120, hard_limit_s=150,    # time limits: a clean stop first, then a kill
    max_attempts=2, backoff_s=5.0,         # a failure is retried once by itself, 5 s later
    max_wait_s=60, max_run_s=60,           # SLA: longest wait to start, longest run
)
