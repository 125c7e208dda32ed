"""Lab 4: images as sums of waves; filters as frequency selectors."""

import numpy as np
import streamlit as st

from explorer import figures, frequency, images, samples, ui
from explorer.errors import ExplorerError

ui.enter_page()
ui.lab_title(__file__)
image = ui.require_image()
gray = images.to_grayscale(image.pixels)[..., 0]
st.markdown(
    "Every image is a sum of waves. **Low frequencies** are slow changes: overall shape, shading. "
    "**High frequencies** are fast changes: edges, fine texture, noise. The spectrum shows how "
    "much of each wave the image holds; the centre is the average brightness (frequency 0)."
)

spectrum = frequency.centred_spectrum(gray)
columns = st.columns(3)
ui.show_view(columns[0], figures.image_view(gray, title="Image (grayscale)", height=340))
ui.show_view(
    columns[1],
    figures.image_view(
        frequency.log_magnitude(spectrum),
        title="Spectrum: log(1 + |F|)",
        height=340,
        value_range=None,
        colorscale="viridis",
        value_label="log magnitude",
    ),
)
ui.show_view(
    columns[2],
    figures.image_view(
        frequency.phase(spectrum),
        title="Phase (radians)",
        height=340,
        value_range=(-np.pi, np.pi),
        colorscale="twilight",
        value_label="phase",
    ),
)


@ui.fragment
def filtering() -> None:
    st.subheader("Keep some frequencies, remove the rest")
    columns = st.columns(4)
    band = columns[0].radio("Filter", frequency.MASK_BANDS, key="mask_band")
    shape = columns[1].radio(
        "Edge", frequency.MASK_SHAPES, key="mask_shape", help="An ideal (hard) edge causes ringing."
    )
    cutoff = columns[2].slider("Cutoff (fraction of Nyquist)", 0.01, 1.0, step=0.01, key="cutoff")
    width = columns[3].slider(
        "Band width", 0.02, 0.5, step=0.01, key="band_width", disabled=band != "band-pass"
    )
    mask = frequency.frequency_mask(gray.shape, shape, band, cutoff, width)
    filtered = frequency.filter_image(gray, mask)
    kept = frequency.energy_fraction(gray, mask)
    columns = st.columns(3)
    ui.show_view(
        columns[0],
        figures.image_view(
            mask, title=f"{shape} {band} mask", height=340, value_range=(0, 1), value_label="gain"
        ),
    )
    ui.show_view(
        columns[1],
        figures.image_view(
            frequency.log_magnitude(spectrum * mask),
            title="Spectrum × mask",
            height=340,
            value_range=None,
            colorscale="viridis",
        ),
    )
    ui.show_view(
        columns[2],
        figures.image_view(filtered, title="Back to pixels", height=340, value_range=None),
    )
    st.write(f"The mask keeps **{kept:.1%}** of the image's energy (sum of |F|²).")


filtering()

st.subheader("High vs low frequency in real photos")
cutoff = 0.1
mask = frequency.frequency_mask(gray.shape, "gaussian", "low-pass", cutoff)
columns = st.columns(4)
for column, name in zip(columns, ["grass (texture)", "moon surface (photo)"], strict=False):
    photo = images.to_working_image(samples.load_sample(name), "grayscale", 128)[..., 0]
    share = frequency.high_frequency_share(photo, cutoff)
    ui.show_view(column, figures.image_view(photo, title=name, height=260))
    column.caption(
        f"{share:.1%} of its detail energy (brightness around its mean) lies above "
        f"{cutoff:.0%} of Nyquist"
    )
ui.show_view(
    columns[2],
    figures.image_view(
        frequency.filter_image(gray, mask),
        title="Your image: low part",
        height=260,
        value_range=None,
    ),
)
ui.show_view(
    columns[3],
    figures.image_view(
        frequency.filter_image(gray, 1.0 - mask),
        title="Your image: high part",
        height=260,
        value_range=None,
        colorscale=figures.DIVERGING,
    ),
)
st.caption(
    "Texture is mostly high frequency; smooth shading is low. Your image's low and high parts "
    "use a smooth (Gaussian) split at the same cutoff, so low part + high part = image."
)

st.subheader("What your kernels do to frequencies")
with st.expander("Convolution settings (shared with the Convolution page)"):
    settings = ui.conv_controls()
try:
    bank = ui.filter_bank(settings, 1)
except ExplorerError as error:
    ui.show_error(error)
    st.stop()
kernels = bank.kernels[:, :, 0, :]
grid = (64, 64)
responses = frequency.kernel_frequency_response(kernels, grid)
ui.show_view(
    st,
    figures.map_grid_view(
        responses,
        bank.names,
        title="|frequency response| (centre = low frequencies)",
        columns=None,
        colorscale="viridis",
        scaling="minmax",
    ),
)
st.caption(
    "Each tile is stretched from its own weakest (dark) to strongest (bright) gain. A blur is "
    "bright in the centre (low-pass); an edge detector is dark in the centre and bright "
    "towards the edges (high-pass); Sobel x passes horizontal frequencies only. Flipping a "
    "kernel changes only the phase of its response, so these tiles are the same for "
    "convolution and cross-correlation."
)

st.subheader("Convolution in space = multiplication of spectra")
columns = st.columns(2)
choice = columns[0].selectbox(
    "Kernel", range(len(bank.names)), format_func=lambda i: bank.names[i], key="theorem_kernel"
)
operation = columns[1].radio(
    "Slide the kernel as", frequency.OPERATIONS, horizontal=True, key="theorem_operation"
)
st.caption(
    "CNN layers, and the Convolution lab, compute **cross-correlation**: the kernel slides "
    "unflipped. Textbook **convolution** flips it first, which for Sobel x swaps the colours "
    "of the result. Both are products of spectra: convolution multiplies the image's spectrum "
    "by the kernel's, cross-correlation by its complex conjugate."
)
check = frequency.check_convolution_theorem(gray, kernels[..., choice], operation)
columns = st.columns(3)
ui.show_view(
    columns[0],
    figures.image_view(
        check.spatial,
        title=f"{operation.capitalize()} in space",
        height=320,
        value_range=None,
        colorscale=figures.DIVERGING,
    ),
)
ui.show_view(
    columns[1],
    figures.image_view(
        check.spectral,
        title="Multiply spectra, transform back",
        height=320,
        value_range=None,
        colorscale=figures.DIVERGING,
    ),
)
columns[2].metric("Largest difference", f"{check.max_abs_difference:.2e}")
columns[2].write(
    f"Over {gray.size:,} pixels the two results differ by at most "
    f"{check.max_abs_difference:.1e}, floating-point round-off: the {operation} is exactly a "
    "product in the frequency domain (with wrap-around borders)."
)
