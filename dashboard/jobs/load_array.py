"""`load_array`: load a raw 3D PET-CT volume; statistics and projection images."""
from . import InvalidInput, JobType, register

DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]
ITEMSIZE = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
            "float32": 4, "float64": 8}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["shape"],
    "properties": {
        "shape": {"type": "array", "minItems": 3, "maxItems": 3,
                  "items": {"type": "integer", "minimum": 1, "maximum": 4096}},
        "dtype": {"enum": DTYPES, "default": "float32"},
        "byte_order": {"enum": ["little", "big"], "default": "little"},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
    },
}


def check(params, upload_meta):
    """The file must hold exactly prod(shape) values of dtype."""
    x, y, z = params["shape"]
    expected = x * y * z * ITEMSIZE[params["dtype"]]
    if upload_meta and upload_meta["size"] != expected:
        raise InvalidInput(
            f"file: size {upload_meta['size']} bytes does not match shape {params['shape']}"
            f" of {params['dtype']} ({expected} bytes expected)")


def run(ctx):
    """Placeholder until the loader lands: refuses to run."""
    raise NotImplementedError("load_array runner not implemented yet")


register(JobType(
    name="load_array", title="Load PET-CT volume", schema=SCHEMA, run=run, check=check,
    file="required", soft_limit_s=300, hard_limit_s=330, max_attempts=1,
))
