"""Fourier views of images and kernels: spectra, frequency masks, kernel responses.

Images here are 2-D float arrays (H, W), usually in [0, 1]. Spectra are
centred (zero frequency in the middle, as ``np.fft.fftshift`` arranges them).
Radii of masks are given as a fraction of the Nyquist frequency: 0 is the
constant (DC) component, 1 is the finest pattern the pixel grid can hold along
an axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from explorer.errors import ExplorerError

MASK_SHAPES = ("ideal", "gaussian")
MASK_BANDS = ("low-pass", "high-pass", "band-pass")


def centred_spectrum(image: np.ndarray) -> np.ndarray:
    """Complex 2-D DFT of an (H, W) image with the zero frequency moved to the centre."""
    return np.fft.fftshift(np.fft.fft2(np.asarray(image, dtype=np.float64)))


def log_magnitude(spectrum: np.ndarray) -> np.ndarray:
    """log(1 + |F|): compresses the huge dynamic range of a spectrum for display."""
    return np.log1p(np.abs(spectrum))


def phase(spectrum: np.ndarray) -> np.ndarray:
    """Angle of each complex coefficient, in radians in [-pi, pi]."""
    return np.angle(spectrum)


def normalised_radius(shape: tuple[int, int]) -> np.ndarray:
    """Distance of each centred-spectrum cell from the centre, as a fraction of Nyquist.

    Returns an (H, W) array that is 0 at the DC cell and 1 at the Nyquist
    frequency along each axis (about 1.41 in the corners).
    """
    rows = np.fft.fftshift(np.fft.fftfreq(shape[0])) * 2.0
    cols = np.fft.fftshift(np.fft.fftfreq(shape[1])) * 2.0
    return np.hypot(rows[:, None], cols[None, :])


def frequency_mask(
    shape: tuple[int, int], mask_shape: str, band: str, cutoff: float, width: float = 0.1
) -> np.ndarray:
    """A centred frequency mask with values in [0, 1].

    Args:
        shape: (H, W) of the spectrum.
        mask_shape: "ideal" (a hard edge, which rings) or "gaussian" (smooth).
        band: "low-pass" keeps radii below ``cutoff``, "high-pass" above it,
            "band-pass" keeps a ring of ``width`` centred on ``cutoff``.
        cutoff: radius as a fraction of Nyquist, in (0, 1.5].
        width: ring width for band-pass, as a fraction of Nyquist.

    Returns:
        float64 (H, W) mask to multiply a centred spectrum by.
    """
    if mask_shape not in MASK_SHAPES or band not in MASK_BANDS:
        raise ExplorerError(f"Choose a mask shape in {MASK_SHAPES} and a band in {MASK_BANDS}.")
    if not 0 < cutoff <= 1.5 or width <= 0:
        raise ExplorerError("The cutoff must be in (0, 1.5] and the band width positive.")
    radius = normalised_radius(shape)
    if band == "band-pass":
        distance = np.abs(radius - cutoff)
        if mask_shape == "ideal":
            return (distance <= width / 2).astype(np.float64)
        return np.exp(-(distance**2) / (2 * (width / 2) ** 2))
    if mask_shape == "ideal":
        low = (radius <= cutoff).astype(np.float64)
    else:
        low = np.exp(-(radius**2) / (2 * cutoff**2))
    return low if band == "low-pass" else 1.0 - low


def filter_image(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Multiply the centred spectrum of an (H, W) image by a mask and transform back.

    Returns the real (H, W) result; it may leave [0, 1] (a high-pass image is
    centred on zero).
    """
    filtered = centred_spectrum(image) * mask
    return np.real(np.fft.ifft2(np.fft.ifftshift(filtered)))


def energy_fraction(image: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the image's spectral energy sum|F|^2 that a mask keeps, in [0, 1]."""
    power = np.abs(centred_spectrum(image)) ** 2
    total = power.sum()
    return float((power * mask**2).sum() / total) if total > 0 else 0.0


def high_frequency_share(image: np.ndarray, cutoff: float) -> float:
    """Fraction of an (H, W) image's detail energy at radii above ``cutoff``, in [0, 1].

    A hard split (an ideal mask): a wave below the cutoff counts 0, one above it 1. A flat
    image has no detail at all and gives 0.

    The average brightness (the DC term) is removed first: it says nothing
    about detail and would otherwise dominate every image's energy.
    """
    detail = np.asarray(image, dtype=np.float64) - np.mean(image)
    if not np.any(np.abs(detail) > 1e-12):
        return 0.0
    return energy_fraction(detail, frequency_mask(detail.shape, "ideal", "high-pass", cutoff))


def kernel_frequency_response(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Magnitude of a (k, k) kernel's centred frequency response on an (H, W) grid.

    The kernel is zero-padded to (H, W) so that its response can be compared
    with an image's spectrum cell for cell. A blur is bright in the centre (it
    passes low frequencies); an edge detector is dark there. A stack of kernels
    (k, k, F) gives their responses (H, W, F).
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.shape[0] > shape[0] or kernel.shape[1] > shape[1]:
        raise ExplorerError("The kernel is larger than the image it is compared with.")
    return np.abs(np.fft.fftshift(np.fft.fft2(kernel, s=shape, axes=(0, 1)), axes=(0, 1)))


def kernel_on_grid(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Place a (k, k) kernel in an (H, W) zero array with its centre at index (0, 0).

    Its DFT is then the transfer function of circular convolution with the kernel.
    Taps of a kernel larger than the grid wrap around and add up, as they do in
    circular convolution.
    """
    size_r, size_c = kernel.shape
    rows = (np.arange(size_r) - size_r // 2) % shape[0]
    cols = (np.arange(size_c) - size_c // 2) % shape[1]
    grid = np.zeros(shape, dtype=np.float64)
    np.add.at(grid, (rows[:, None], cols[None, :]), kernel)
    return grid


OPERATIONS = ("cross-correlation", "convolution")
"""Sliding a kernel as CNN layers do (unflipped), or as the textbook convolution (flipped)."""


@dataclass(frozen=True)
class ConvolutionTheoremCheck:
    """Filtering in space against multiplying spectra, on one image and kernel.

    Attributes:
        spatial: (H, W) circular cross-correlation or convolution by ``scipy.ndimage``.
        spectral: (H, W) inverse DFT of the product of the two spectra.
        max_abs_difference: largest |spatial - spectral|; round-off only, ~1e-15.
    """

    spatial: np.ndarray
    spectral: np.ndarray
    max_abs_difference: float


def check_convolution_theorem(
    image: np.ndarray, kernel: np.ndarray, operation: str
) -> ConvolutionTheoremCheck:
    """Show numerically that filtering in space equals multiplication of spectra.

    Convolution multiplies the image's spectrum by the kernel's, K; cross-correlation (an
    unflipped kernel, as in CNN layers) by its complex conjugate. Uses circular
    (wrap-around) boundaries, for which both theorems are exact. ``scipy.ndimage`` centres
    the kernel at index k // 2, which :func:`kernel_on_grid` matches.

    Args:
        operation: one of :data:`OPERATIONS`.
    """
    if operation not in OPERATIONS:
        raise ExplorerError(f"Choose an operation in {OPERATIONS}.")
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    transfer = np.fft.fft2(kernel_on_grid(kernel, image.shape))
    if operation == "convolution":
        spatial = ndimage.convolve(image, kernel, mode="wrap")
    else:
        spatial = ndimage.correlate(image, kernel, mode="wrap")
        transfer = np.conj(transfer)
    spectral = np.real(np.fft.ifft2(np.fft.fft2(image) * transfer))
    return ConvolutionTheoremCheck(spatial, spectral, float(np.max(np.abs(spatial - spectral))))
