"""The OpenAPI description of a loaded volume's endpoints (dashboard.views.volumes)."""
from dashboard.web.openapi.parts import NULLABLE_TEXT, error, json_answer, ref

NUMBER_OR_NULL = {"type": "number", "nullable": True}


def schemas():
    """Volume (GET .../volume) and VolumeValue (GET .../volume/value)."""
    three = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
    window = {"type": "object", "required": ["level", "width", "label"],
              "properties": {"level": {"type": "number"}, "width": {"type": "number"},
                             "label": {"type": "string"}}}
    counts = {v: {"type": "integer", "minimum": 1} for v in ("axial", "coronal", "sagittal")}
    suv = {"type": "object", "nullable": True, "properties": {
        "factor": {"type": "number"}, "max": NUMBER_OR_NULL, "mean": NUMBER_OR_NULL}}
    layer = {"type": "object", "properties": {
        "label": {"type": "string"}, "modality": NULLABLE_TEXT, "units": NULLABLE_TEXT,
        "suv": suv, "windows": {"type": "object", "additionalProperties": window},
        "default_window": {"type": "string"},
        "default_cmap": {"type": "string", "enum": ["gray", "gray_r", "hot", "inferno"]}}}
    geometry = {"type": "object", "properties": {
        "columns_axis": {"type": "integer"}, "rows_axis": {"type": "integer"},
        "columns_reversed": {"type": "boolean"}, "rows_reversed": {"type": "boolean"},
        "size": {"type": "array", "items": {"type": "integer"}}}}
    props = {
        "shape": {**three, "items": {"type": "integer", "minimum": 1}},
        "spacing_mm": {**three, "nullable": True},
        "format": {"type": "string", "enum": ["raw", "npy", "nifti", "dicom-zip"]},
        "dtype": {"type": "string"}, "modality": NULLABLE_TEXT, "units": NULLABLE_TEXT,
        "slices": {"type": "object", "required": list(counts), "properties": counts},
        "windows": {"type": "object", "additionalProperties": window},
        "default_window": {"type": "string"},
        "orientation": {"type": "string", "enum": ["RAS"], "nullable": True,
                        "description": "RAS+ for NIfTI and DICOM (drawn radiologically,"
                                       " with letters); null for raw and npy (as stored)"},
        "affine": {"type": "array", "nullable": True, "minItems": 4, "maxItems": 4,
                   "items": {"type": "array", "items": {"type": "number"}, "minItems": 4,
                             "maxItems": 4}, "description": "voxel [i, j, k, 1] to mm"},
        "layers": {"type": "array", "items": {"type": "string", "enum": ["main", "ct", "pet"]}},
        "layer_details": {"type": "object", "additionalProperties": layer},
        "default_layer": {"type": "string", "enum": ["main", "ct", "pet", "fusion"]},
        "cmaps": {"type": "array", "items": {"type": "string"}},
        "views": {"type": "object", "additionalProperties": geometry},
    }
    reading = {"type": "object", "properties": {
        "value": NUMBER_OR_NULL, "units": NULLABLE_TEXT, "suv": NUMBER_OR_NULL,
        "modality": NULLABLE_TEXT}}
    value = {"type": "object", "required": ["i", "j", "k", "layer", "value", "units", "suv",
                                            "layers"],
             "properties": {**reading["properties"],
                            "i": {"type": "integer"}, "j": {"type": "integer"},
                            "k": {"type": "integer"}, "layer": {"type": "string"},
                            "position_mm": {**three, "nullable": True},
                            "layers": {"type": "object", "additionalProperties": reading}}}
    return {"Volume": {"type": "object", "required": list(props), "properties": props},
            "VolumeValue": value}


def paths(auth_errors, id_param):
    """GET /api/requests/{id}/volume and .../volume/value."""
    index = [{"name": name, "in": "query", "required": True, "schema": {"type": "integer"},
              "description": f"voxel index along axis {axis}"}
             for axis, name in enumerate("ijk")]
    layer = {"name": "layer", "in": "query", "schema": {"type": "string"},
             "description": "main, ct or pet (default: the first layer)"}
    return {
        "/api/requests/{request_id}/volume": {
            "get": {"operationId": "getVolume", "summary": "A loaded volume, for the slice"
                    " viewer (images: /requests/{id}/volume/{view}/{index}.png and"
                    " .../{view}/mip.png with ?window= or ?level=&width=, ?layer=, ?cmap=,"
                    " ?opacity=, ?pet_window=, ?labels=0)",
                    "parameters": [id_param],
                    "responses": {"200": json_answer(ref("Volume"), "shape, spacing,"
                                                     " orientation, layers, windows"),
                                  "404": error("no such request, or no loaded volume"),
                                  **auth_errors}},
        },
        "/api/requests/{request_id}/volume/value": {
            "get": {"operationId": "getVolumeValue", "summary": "The value at a voxel, in its"
                    " units and in SUV, for each layer",
                    "parameters": [id_param, *index, layer],
                    "responses": {"200": json_answer(ref("VolumeValue"), "the values"),
                                  "404": error("no such request or volume, or an index out"
                                               " of range"),
                                  "422": error("a missing or non-integer index, or an unknown"
                                               " layer (named)"),
                                  **auth_errors}},
        },
    }
