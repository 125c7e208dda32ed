"""Start page: what CNN Explorer is and where each idea lives."""

import streamlit as st

from explorer import ui

ui.enter_page()
st.title("🧠 CNN Explorer")
st.markdown(
    "Learn how **convolutional neural networks see images** by touching every piece. "
    "Pick an image in the sidebar (draw a digit, upload a picture, or choose a real photo or "
    "MNIST digit), then open a lab. Every control redraws the page at once."
)

LABS = [
    (
        "1 · Image as numbers",
        "1_image_as_numbers.py",
        "Pixels are numbers: hover the grid, zoom into a patch, split colour channels, "
        "normalise, and see why flattening an image into an MLP needs millions of weights.",
    ),
    (
        "2 · Convolution",
        "2_convolution.py",
        "Kernels and feature maps: kernel size, stride, padding, dilation and filter count, "
        "the output-size formula, and every multiplication of the sliding window.",
    ),
    (
        "3 · Activation & pooling",
        "3_activation_pooling.py",
        "ReLU, leaky ReLU, sigmoid and tanh; max and average pooling; and why shifting a "
        "digit by a few pixels changes pooled features less than raw pixels.",
    ),
    (
        "4 · Frequency",
        "4_frequency.py",
        "Low and high frequencies, low-/high-/band-pass filters, what each kernel does to "
        "the spectrum, and a live check that convolution is multiplication of spectra.",
    ),
    (
        "5 · Train a CNN",
        "5_train.py",
        "Build a CNN (or an MLP) layer by layer, train it on real digits, shapes or your own "
        "pictures, watch the loss fall, and keep the best model.",
    ),
    (
        "6 · Inspect a network",
        "6_inspect.py",
        "See every layer's activations for your own drawing, the learned filters, saliency, "
        "Grad-CAM and occlusion, the test set's mistakes, and what each unit wants.",
    ),
]

columns = st.columns(2)
for index, (title, page, text) in enumerate(LABS):
    with columns[index % 2].container(border=True):
        st.page_link(ui.page(page), label=f"**{title}**")
        st.write(text)

st.subheader("Teaching tips")
st.markdown(
    "- Set **Working size** small (28–64 px) to see individual pixels; large for photos.\n"
    "- Switch **Colour** to RGB to show that a kernel on a colour image is k×k×3.\n"
    "- Settings are shared: filters chosen on *Convolution* are used on *Pooling* and "
    "*Frequency* too."
)
