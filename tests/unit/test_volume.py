"""load_array's volume maths: reading raw bytes, statistics, projections, 8-bit images, PNG."""
import io

import numpy as np
import pytest
from PIL import Image

from dashboard.volumes import formats, render
from dashboard.volumes import stats as stats_module

SHAPE = (20, 30, 40)


def decode(png_bytes):
    return np.asarray(Image.open(io.BytesIO(png_bytes)))


def test_volume_reads_both_byte_orders_without_copying():
    values = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    little = formats.raw_volume(values.astype("<i2").tobytes(), (2, 3, 4), "int16", "little")
    big = formats.raw_volume(values.astype(">i2").tobytes(), (2, 3, 4), "int16", "big")
    assert (little == values).all() and (big == values).all()
    assert little[1, 2, 3] == 23 and not little.flags.writeable, "a read-only view of the bytes"


def test_volume_of_the_wrong_size_says_both_sizes():
    with pytest.raises(ValueError) as caught:
        formats.raw_volume(b"\x00" * 10, (2, 2, 2), "float32", "little")
    assert str(caught.value) == "file holds 10 bytes, shape [2, 2, 2] of float32 needs 32"


def test_statistics_of_a_known_volume():
    vol = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    stats = stats_module.statistics(vol)
    assert (stats["min"], stats["max"], stats["mean"]) == (0.0, 7.0, 3.5)
    assert stats["std"] == pytest.approx(np.std(np.arange(8)))
    assert (stats["voxels"], stats["finite"], stats["nan"]) == (8, 8, 0)
    assert sum(stats["histogram"]["counts"]) == 8 and len(stats["histogram"]["edges"]) == 65


def test_integer_volumes_report_integer_extremes():
    stats = stats_module.statistics(np.array([[[-3, 5]]], dtype=np.int32))
    assert (stats["min"], stats["max"]) == (-3, 5)
    assert isinstance(stats["min"], int) and isinstance(stats["mean"], float)


def test_non_finite_values_are_counted_and_left_out():
    vol = np.array([[[1.0, np.nan, np.inf, -np.inf, 3.0, np.nan]]], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        stats = stats_module.statistics(vol)
    assert (stats["nan"], stats["posinf"], stats["neginf"], stats["finite"]) == (2, 1, 1, 2)
    assert (stats["min"], stats["max"], stats["mean"], stats["std"]) == (1.0, 3.0, 2.0, 1.0)
    assert sum(stats["histogram"]["counts"]) == 2


def test_statistics_over_many_chunks_match_numpy(monkeypatch):
    """Chunked sums give numpy's answer when the volume spans several chunks."""
    monkeypatch.setattr(stats_module, "CHUNK", 1000)   # the statistics live in dashboard.volumes
    rng = np.random.default_rng(7)
    vol = rng.normal(100.0, 15.0, size=(10, 20, 35)).astype(np.float32)
    seen = []
    stats = stats_module.statistics(vol, seen.append)
    wide = vol.astype(np.float64)
    assert stats["mean"] == pytest.approx(wide.mean(), rel=1e-12)
    assert stats["std"] == pytest.approx(wide.std(), rel=1e-9)
    assert stats["histogram"]["counts"] == np.histogram(wide, 64, (wide.min(), wide.max()))[
        0].tolist()
    assert seen == sorted(seen) and seen[-1] == 90 and len(seen) == 2 * 7


def test_progress_runs_from_above_zero_to_ninety():
    seen = []
    stats_module.statistics(np.ones((2, 2, 2), dtype=np.uint8), seen.append)
    assert seen == [50.0, 90.0]


def test_projection_is_the_maximum_along_an_axis_ignoring_nan():
    vol = np.zeros((2, 2, 2), dtype=np.float32)
    vol[1, 0, 1] = 9
    vol[0, 1, 0] = np.nan
    mip = render.projection(vol, 0)
    assert mip.tolist() == [[0.0, 9.0], [0.0, 0.0]]
    assert render.projection(vol, 2).shape == (2, 2)


def test_gray8_scales_over_the_finite_range():
    image = render.to_gray8(np.array([[10.0, 20.0], [15.0, np.nan]]))
    assert image.tolist() == [[0, 255], [128, 0]]


def test_gray8_shows_infinities_as_white_and_black():
    image = render.to_gray8(np.array([[np.inf, -np.inf, 1.0, 2.0]]))
    assert image.tolist() == [[255, 0, 0, 255]]


def test_gray8_of_the_widest_float_range_does_not_overflow():
    top = np.finfo(np.float64).max
    with np.errstate(all="raise"):
        image = render.to_gray8(np.array([[-top, 0.0, top]]))
    assert image.tolist() == [[0, 128, 255]]


def test_png_round_trips_the_image():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    assert (decode(render.png(gray)) == gray).all()


def test_constant_volume_has_no_division_by_zero():
    vol = np.full(SHAPE, 3.5, dtype=np.float32)
    with np.errstate(all="raise"):
        stats = stats_module.statistics(vol)
        image = render.to_gray8(render.projection(vol, 0))
    assert (stats["min"], stats["max"], stats["mean"], stats["std"]) == (3.5, 3.5, 3.5, 0.0)
    assert stats["histogram"]["counts"][32] == vol.size   # numpy's [v-0.5, v+0.5] range
    assert image.shape == SHAPE[1:] and not image.any()
    assert decode(render.png(image)).shape == SHAPE[1:]


def test_all_nan_volume_reports_no_statistics():
    vol = np.full((2, 3, 4), np.nan, dtype=np.float32)
    stats = stats_module.statistics(vol)
    assert stats["nan"] == 24 and stats["finite"] == 0
    assert stats["mean"] is None and stats["histogram"]["counts"] == []
    assert not render.to_gray8(render.projection(vol, 2)).any()


@pytest.mark.parametrize("low, high", [(0.0, 5e-324), (0.0, 1e-320), (-1e-310, 1e-310)])
def test_gray8_of_a_subnormal_range_still_spans_black_to_white(low, high):
    """A range so narrow that its half, or 255 over it, is not a finite float64."""
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        image = render.to_gray8(np.array([[low, high, np.nan]]))
    assert image.tolist() == [[0, 255, 0]]


def test_windows_of_the_widest_range_are_finite():
    found = render.windows({"min": -1.5e308, "max": 1.7e308,
                            "percentiles": {"0.5": -1.5e308, "99.5": 1.7e308}})
    for level, width in (found["full"], found["pet"]):
        assert np.isfinite(level) and np.isfinite(width) and width > 0
    image = render.window(np.array([[-1.5e308, 0.0, 1.7e308]]), *found["full"])
    assert image.tolist() == [[0, 113, 255]]           # 0 lies 44 % of the way up


@pytest.mark.parametrize("spacing", [[1e-30, 2.0, 2.5], [2.0, 1e-310, 1e300],
                                     [float("nan"), float("inf"), 1.0], [0.0, -1.0, 2.0]])
def test_display_size_of_any_voxel_size_is_a_drawable_image(spacing):
    for view in render.VIEWS:
        width, height = render.display_size(20, 30, view, spacing)
        assert 1 <= width <= render.MAX_SIDE and 1 <= height <= render.MAX_SIDE, (view, spacing)
    assert render.display_size(20, 30, "axial", [1.5, 1.5, 3.0]) == (320, 213)
