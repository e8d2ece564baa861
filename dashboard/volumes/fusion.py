"""PET over CT: the PET volume resampled onto the CT grid with both affines (SciPy).

Each CT voxel takes the PET value at its own patient position (trilinear, by
scipy.ndimage.affine_transform with the CT-index-to-PET-index matrix); CT voxels
outside the PET's field of view get 0. The values stay in the PET's units.
"""
import numpy as np

from dashboard.volumes.formats import Loaded


def ct_to_pet_index(pet_affine, ct_affine):
    """The 4x4 matrix taking a CT voxel index to the PET voxel index at the same position."""
    return np.linalg.inv(np.asarray(pet_affine, np.float64)) @ np.asarray(ct_affine, np.float64)


def resample(pet, pet_affine, shape, ct_affine):
    """The PET array's values at every voxel of a grid of `shape` with `ct_affine` (float32)."""
    from scipy.ndimage import affine_transform
    matrix = ct_to_pet_index(pet_affine, ct_affine)
    linear = matrix[:3, :3]
    if np.count_nonzero(linear - np.diag(np.diag(linear))) == 0:
        # Axis-aligned grids (the usual PET/CT): SciPy's faster scale-and-shift path.
        matrix, offset = np.diag(linear).copy(), matrix[:3, 3].copy()
    else:
        offset = 0.0
    return affine_transform(np.asarray(pet, dtype=np.float32), matrix, offset=offset,
                            output_shape=tuple(int(n) for n in shape), output=np.float32,
                            order=1, mode="constant", cval=0.0)


def onto_grid(pet, ct):
    """Loaded: the PET (Loaded, RAS+) on the CT's grid, with the CT's affine and spacing."""
    array = resample(pet.array, pet.affine, ct.array.shape, ct.affine)
    return Loaded(array, pet.format, ct.spacing_mm, pet.modality, pet.units,
                  orientation=ct.orientation, affine=ct.affine, suv_factor=pet.suv_factor,
                  suv_note=pet.suv_note,
                  resampled_from={"shape": [int(n) for n in pet.array.shape],
                                  "spacing_mm": pet.spacing_mm})
