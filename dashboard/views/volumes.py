"""The slice viewer's endpoints: a volume's description (JSON) and its slices and MIPs (PNG)."""
import hashlib

from flask import Blueprint, abort, jsonify, make_response, request

from dashboard.volumes import cache, render, viewer
from dashboard.web.auth import require_role

bp = Blueprint("volumes", __name__)
RENDERING = "1"                      # part of every ETag: bump when images are drawn differently


@bp.route("/api/requests/<int:request_id>/volume")
@require_role("viewer")
def describe(request_id):
    """shape, spacing_mm, slices per view, named windows; 404 without a loaded volume."""
    described = viewer.api_description(request_id)
    if described is None:
        return jsonify(error=f"request {request_id}: no loaded volume (not a load_array"
                             " request that succeeded, or no such request)"), 404
    return jsonify(described)


@bp.route("/requests/<int:request_id>/volume/<view>/<int:index>.png")
@bp.route("/requests/<int:request_id>/volume/<view>/mip.png")
@require_role("viewer")
def image(request_id, view, index=None):
    """Slice `index` of `view` (or its MIP) as a windowed PNG; 404 out of range."""
    found = cache.find(request_id)
    if view not in render.VIEWS or found is None:
        abort(404)
    if index is not None and not 0 <= index < render.slice_count(found["shape"], view):
        abort(404, description=f"{view} has slices 0 to"
                               f" {render.slice_count(found['shape'], view) - 1}.")
    try:
        level, width = viewer.chosen_window(found, request.args)
    except ValueError as exc:
        return jsonify(error=str(exc)), 422
    tag = hashlib.sha256(repr((RENDERING, found["upload_id"], found["sha256"], found["attempt"],
                               view, index, level, width)).encode()).hexdigest()[:32]
    if request.if_none_match.contains(tag):
        return _cacheable(make_response("", 304), tag)
    if index is None:
        plane = cache.mip(found, view)
    else:
        plane = render.cut(cache.volume(found), view, index)
    spacing = (found["result"] or {}).get("spacing_mm")
    size = render.display_size(plane.shape[0], plane.shape[1], view, spacing)
    response = make_response(render.png(render.window(plane, level, width), size))
    response.headers["Content-Type"] = "image/png"
    return _cacheable(response, tag)


def _cacheable(response, tag):
    """ETag and private caching: the image of one attempt's volume never changes."""
    response.set_etag(tag)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
