"""Decoding DICOM bytes into slices, and the reasons given when that is impossible."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.dicom_samples import sample_path

# isort: split
from algorithm_worker.dicom_io import decode_instance
from algorithm_worker.errors import NotDicom, UnreadablePixels
from algorithm_worker.imaging import display_image, montage, window_to_uint8


def test_ct_values_are_hounsfield_units() -> None:
    # Given: CT_small stores raw values with RescaleIntercept -1024
    data = sample_path("CT_small.dcm").read_bytes()
    # When
    (image,) = decode_instance(data, "ct")
    # Then
    assert image.values.dtype == np.float32
    assert image.values.shape == (128, 128)
    assert image.values.min() == pytest.approx(128 - 1024)
    assert image.pixel_spacing_mm is not None
    assert image.instance_number == 1


def test_the_file_window_is_kept_and_used_for_display() -> None:
    # Given: MR_small carries window 600/1600
    (image,) = decode_instance(sample_path("MR_small.dcm").read_bytes(), "mr")
    # When
    display = display_image(image)
    # Then
    assert image.window == (600.0, 1600.0)
    assert display.dtype == np.uint8
    assert np.array_equal(display, window_to_uint8(image.values, 600.0, 1600.0))


def test_linear_windowing_follows_the_dicom_formula() -> None:
    # Given: a soft-tissue window, centre 40 width 400 (covers -160 .. 240)
    values = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0])
    # When
    display = window_to_uint8(values, 40.0, 400.0)
    # Then
    assert display.tolist() == [0, 0, 128, 255, 255]


def test_a_truncated_file_is_unreadable_pixels_with_the_byte_counts() -> None:
    # Given
    data = sample_path("MR_truncated.dcm").read_bytes()
    # When
    with pytest.raises(UnreadablePixels) as error:
        decode_instance(data, "MR_truncated")
    # Then
    assert str(error.value) == (
        "instance MR_truncated pixel data cannot be decoded (Explicit VR Little Endian): "
        "The number of bytes of pixel "
        "data is less than expected (8130 vs 8192 bytes)"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "instance x is empty"),
        (b"plain text, not DICOM", "instance x is not a DICOM file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "instance x is not a DICOM file"),
    ],
)
def test_a_non_dicom_object_is_refused(data: bytes, reason: str) -> None:
    # When
    with pytest.raises(NotDicom) as error:
        decode_instance(data, "x")
    # Then
    assert str(error.value) == reason


def test_a_dicom_header_cut_short_is_refused_as_corrupt() -> None:
    # Given: CT_small cut inside its dataset, long before the pixel data
    data = sample_path("CT_small.dcm").read_bytes()[:700]
    # When
    with pytest.raises((NotDicom, UnreadablePixels)) as error:
        decode_instance(data, "cut")
    # Then
    assert "cut" in str(error.value)


def test_a_dicom_without_pixel_data_is_refused() -> None:
    # When
    with pytest.raises(UnreadablePixels) as error:
        decode_instance(sample_path("rtplan.dcm").read_bytes(), "plan")
    # Then
    assert str(error.value) == "instance plan has no pixel data"


def test_a_montage_places_tiles_in_order_on_a_near_square_grid() -> None:
    # Given: five distinct 2x3 tiles
    tiles = [np.full((2, 3, 3), i * 40, np.uint8) for i in range(5)]
    # When
    sheet = montage(tiles)
    # Then: 3 columns (ceil(sqrt(5))) by 2 rows, filled row by row, the empty cell black
    assert sheet.shape == (4, 9, 3)
    assert [int(sheet[0, 0, 0]), int(sheet[0, 3, 0]), int(sheet[0, 6, 0])] == [0, 40, 80]
    assert [int(sheet[2, 0, 0]), int(sheet[2, 3, 0]), int(sheet[2, 6, 0])] == [120, 160, 0]


def test_a_compressed_instance_without_its_codec_names_the_transfer_syntax(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given: JPEG2000.dcm with no JPEG 2000 plugin available (as in the worker image)
    from pydicom.pixels.decoders import JPEG2000Decoder

    monkeypatch.setattr(JPEG2000Decoder, "_available", {})
    data = sample_path("JPEG2000.dcm").read_bytes()
    # When
    with pytest.raises(UnreadablePixels) as error:
        decode_instance(data, "j2k")
    # Then
    assert str(error.value) == (
        "instance j2k uses transfer syntax JPEG 2000 Image Compression, "
        "for which no decoder is installed"
    )
