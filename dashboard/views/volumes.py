"""The slice viewer's endpoints: a volume's description and values (JSON), its images (PNG)."""
import hashlib

from flask import Blueprint, abort, jsonify, make_response, request
from flask_babel import gettext as _

from dashboard.volumes import cache, picture, reading, render, viewer
from dashboard.web.auth import require_role

bp = Blueprint("volumes", __name__)
RENDERING = "2"                      # part of every ETag: bump when images are drawn differently


def _missing(request_id):
    """The 404 answer of a request without a loaded volume."""
    return jsonify(error=f"request {request_id}: no loaded volume (not a load_array"
                         " request that succeeded, or no such request)"), 404


@bp.route("/api/requests/<int:request_id>/volume")
@require_role("viewer")
def describe(request_id):
    """shape, spacing, orientation, affine, layers, slices per view, windows; 404 without one."""
    described = viewer.api_description(request_id)
    return jsonify(described) if described is not None else _missing(request_id)


@bp.route("/api/requests/<int:request_id>/volume/value")
@require_role("viewer")
def value(request_id):
    """{value, units, suv} at voxel ?i=&j=&k= (of ?layer=, default the first); every layer's."""
    layers = cache.find_layers(request_id)
    if not layers:
        return _missing(request_id)
    try:
        return jsonify(reading.reading(layers, request.args))
    except reading.OutOfRange as exc:
        return jsonify(error=str(exc)), 404
    except ValueError as exc:
        return jsonify(error=str(exc)), 422


@bp.route("/requests/<int:request_id>/volume/<view>/<int:index>.png")
@bp.route("/requests/<int:request_id>/volume/<view>/mip.png")
@require_role("viewer")
def image(request_id, view, index=None):
    """Slice `index` of `view` (or its MIP) of a layer or the fusion as a PNG; 404 out of range."""
    layers = cache.find_layers(request_id)
    if view not in render.VIEWS or not layers:
        abort(404)
    first = next(iter(layers.values()))
    count = render.slice_count(first["shape"], view)
    if index is not None and not 0 <= index < count:
        abort(404, description=_("%(view)s has slices 0 to %(last)s.", view=view,
                                  last=count - 1))
    try:
        choice = viewer.chosen(layers, request.args)
    except ValueError as exc:
        return jsonify(error=str(exc)), 422
    shown = ("ct", "pet") if choice.layer == "fusion" else (choice.layer,)
    tag = hashlib.sha256(repr((RENDERING, first["attempt"], view, index, tuple(choice),
                               [(layers[n]["upload_id"], layers[n]["sha256"]) for n in shown])
                              ).encode()).hexdigest()[:32]
    if request.if_none_match.contains(tag):
        return _cacheable(make_response("", 304), tag)
    result = first["result"] or {}
    oriented = result.get("orientation") == "RAS"
    planes = {}
    for name in shown:
        if index is None:
            planes[name] = cache.mip(layers[name], view, oriented)
        else:
            planes[name] = render.cut(cache.volume(layers[name]), view, index, oriented)
    rows, cols = planes[shown[0]].shape
    size = render.display_size(rows, cols, view, result.get("spacing_mm"))
    response = make_response(picture.draw(planes, view, choice, size, oriented))
    response.headers["Content-Type"] = "image/png"
    return _cacheable(response, tag)


def _cacheable(response, tag):
    """ETag and private caching: the image of one attempt's volume never changes."""
    response.set_etag(tag)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
