"""The ImageNet gallery against torchvision's published counts and the papers."""

import pytest

from explorer import gallery, model

# torchvision's IMAGENET1K_V1 weight metadata, "num_params" and "_ops" (GFLOPS counted as
# multiply-adds), https://pytorch.org/vision/stable/models.html: written out here again
# so that a changed entry in explorer/gallery.py cannot pass by changing both.
TORCHVISION = {
    "AlexNet": (61_100_840, 0.714),
    "VGG-16": (138_357_544, 15.47),
    "GoogLeNet": (6_624_904, 1.498),
    "ResNet-18": (11_689_512, 1.814),
    "ResNet-50": (25_557_032, 4.089),
}
# Rounded figures the issue and textbooks quote: ResNet-50 ≈ 4.1 G, VGG-16 ≈ 15.5 G,
# AlexNet ≈ 0.7 G multiply-adds.
QUOTED_GMACS = {"ResNet-50": 4.1, "VGG-16": 15.5, "AlexNet": 0.7}
BY_NAME = {entry.spec.name: entry for entry in gallery.ARCHITECTURES}


def test_the_gallery_holds_the_five_networks():
    assert sorted(BY_NAME) == sorted(TORCHVISION)
    assert all(entry.spec.input_shape == (224, 224, 3) for entry in gallery.ARCHITECTURES)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_parameter_counts_equal_torchvision_exactly(name):
    params, _ = TORCHVISION[name]
    assert gallery.totals(BY_NAME[name].spec).params == params
    assert BY_NAME[name].reference_params == params


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_multiply_adds_within_two_percent_of_torchvision(name):
    _, gmacs = TORCHVISION[name]
    assert gallery.totals(BY_NAME[name].spec).macs / 1e9 == pytest.approx(gmacs, rel=0.02)
    assert BY_NAME[name].reference_gmacs == gmacs


@pytest.mark.parametrize("name", sorted(QUOTED_GMACS))
def test_multiply_adds_within_two_percent_of_the_quoted_figures(name):
    macs = gallery.totals(BY_NAME[name].spec).macs
    assert macs / 1e9 == pytest.approx(QUOTED_GMACS[name], rel=0.021)


@pytest.mark.parametrize(
    ("name", "depth"),
    [("AlexNet", 8), ("VGG-16", 16), ("GoogLeNet", 22), ("ResNet-18", 18), ("ResNet-50", 50)],
)
def test_depth_is_the_number_in_the_name_or_the_paper(name, depth):
    assert gallery.totals(BY_NAME[name].spec).depth == depth


def test_layer_shapes_by_hand():
    alex = {row.name: row.output_shape for row in model.layer_table(gallery.alexnet())}
    # (224 + 2·2 − 11) // 4 + 1 = 55; (55 − 3) // 2 + 1 = 27; 27 → 13 → 6.
    assert alex["conv1"] == (55, 55, 64) and alex["pool2"] == (27, 27, 64)
    assert alex["pool8"] == (6, 6, 256) and alex["flatten"] == (9216,)
    res = model.layer_table(gallery.resnet(50))
    assert [row.output_shape for row in res if row.kind == "residual"][-1] == (7, 7, 2048)
    google = {row.name: row for row in model.layer_table(gallery.googlenet())}
    assert google["inc6"].output_shape == (28, 28, 256)  # inception 3a: 64 + 128 + 32 + 32
    assert google["inc16"].output_shape == (7, 7, 1024)  # inception 5b
    assert google["gap"].output_shape == (1024,)


def test_vgg_first_dense_layer_holds_most_of_its_parameters():
    rows = {row.name: row for row in model.layer_table(gallery.vgg16())}
    assert rows["dense1"].params == 7 * 7 * 512 * 4096 + 4096


def test_ilsvrc_winners_fall_year_by_year_with_a_source_each():
    years = [winner.year for winner in gallery.ILSVRC_WINNERS]
    assert years == list(range(2010, 2018))
    errors = [winner.top5_error for winner in gallery.ILSVRC_WINNERS]
    assert errors == sorted(errors, reverse=True)
    assert all(winner.source for winner in gallery.ILSVRC_WINNERS)
    by_year = {winner.year: winner for winner in gallery.ILSVRC_WINNERS}
    assert by_year[2012].model == "AlexNet" and by_year[2015].model.startswith("ResNet")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (61_100_840, "61.1 M"),
        (138_357_544, "138 M"),
        (714_000_000, "714 M"),
        (15_470_000_000, "15.5 G"),
        (999_600, "1 M"),
        (999_400, "999 k"),
        (512, "512"),
    ],
)
def test_short_counts_keep_three_digits_and_a_unit(value, text):
    assert gallery.short_count(value) == text


UNITS = {"k": 1e3, "M": 1e6, "G": 1e9}


def parsed(text: str) -> float:
    number, _, unit = text.partition(" ")
    return float(number) * UNITS.get(unit, 1.0)


def test_the_summary_table_has_six_short_columns_with_each_network_s_numbers():
    rows = gallery.summary_rows()
    assert [row["network"] for row in rows] == list(BY_NAME)
    assert all(len(row) == 6 and all(len(key) <= 13 for key in row) for row in rows)
    assert set(gallery.SUMMARY_HELP) <= set(rows[0])
    for row in rows:
        name, (params, gmacs) = row["network"], TORCHVISION[row["network"]]
        total = gallery.totals(BY_NAME[name].spec)
        assert row["depth"] == str(total.depth)
        assert parsed(row["parameters"]) == pytest.approx(total.params, rel=5e-3)
        assert parsed(row["multiply-adds"]) == pytest.approx(total.macs, rel=5e-3)
        reference = [parsed(part) for part in row["torchvision"].split(" · ")]
        assert reference == pytest.approx([params, gmacs * 1e9], rel=5e-3)
        assert all(len(text) <= 17 for text in row.values())
