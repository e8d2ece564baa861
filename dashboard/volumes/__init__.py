"""PET-CT volumes as people have them.

formats   which format a file is (from its content) and what it holds: checked at
          submit without loading it, loaded in the worker as an [x, y, z] array
nifti     the `nifti` format (nibabel); frames: a 4-D NIfTI's `frame`: one frame, or their sum
dicom_zip the `dicom-zip` format: a series (or a CT + PT pair) checked and loaded in RAS+
  dicom_slices   the zip's members and one checked slice each
  dicom_series   slices grouped into series, checked, sorted; which series to load
  dicom_geometry one orientation, even gaps, the LPS -> RAS+ affine
suv       a PT series' body-weight SUV factor (QIBA)
fusion    the PET resampled onto the CT grid (SciPy)
stats     min, max, mean, std, non-zero share, histogram, percentiles (chunked)
render    the three views and projections, oriented as the user guide says, windowed, PNG
cache     the canonical volume each attempt leaves behind, and the web's memory map of it
"""
