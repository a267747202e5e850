"""The algorithm plugins on real DICOM images shipped by pydicom: sensible and deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.dicom_samples import sample_path

# isort: split
from algorithm_worker.algorithms import REGISTRY
from algorithm_worker.dicom_io import Slice, decode_instance
from algorithm_worker.imaging import component_count, display_image, mask_digest

IMAGES = ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "liver_1frame.dcm")


def first_slice(name: str) -> Slice:
    return decode_instance(sample_path(name).read_bytes(), name)[0]


def run(algo_id: str, image: Slice) -> np.ndarray:
    return REGISTRY[algo_id].segment(display_image(image), image)


def test_the_registry_holds_the_three_algorithms_under_their_own_ids() -> None:
    # Then
    assert sorted(REGISTRY) == ["processing_1", "processing_2", "processing_3"]
    assert all(algo_id == algorithm.algo_id for algo_id, algorithm in REGISTRY.items())


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("algo_id", sorted(REGISTRY))
def test_the_mask_is_boolean_image_sized_and_a_strict_part_of_the_image(
    algo_id: str, name: str
) -> None:
    # Given
    image = first_slice(name)
    # When
    mask = run(algo_id, image)
    # Then
    assert mask.dtype == bool
    assert mask.shape == image.values.shape
    assert 0 < mask.sum() < mask.size


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("algo_id", sorted(REGISTRY))
def test_the_same_input_gives_the_same_mask(algo_id: str, name: str) -> None:
    # Given: the file decoded twice, independently
    first, second = first_slice(name), first_slice(name)
    # When
    digests = {mask_digest([run(algo_id, first)]), mask_digest([run(algo_id, second)])}
    # Then
    assert len(digests) == 1


@pytest.mark.parametrize("algo_id", sorted(REGISTRY))
def test_ct_small_has_structures_in_every_algorithm(algo_id: str) -> None:
    # Given: an axial CT through a vertebra
    image = first_slice("CT_small.dcm")
    # When
    count = component_count(run(algo_id, image))
    # Then
    assert count > 0


def test_processing_1_finds_the_bright_vertebra_of_ct_small() -> None:
    # Given: the vertebral body sits in the middle of CT_small and is bone (> 200 HU)
    image = first_slice("CT_small.dcm")
    # When
    mask = run("processing_1", image)
    # Then: the mask holds the centre and is mostly much denser than what it leaves out
    assert mask[64, 64] or mask[60:70, 60:70].any()
    assert np.median(image.values[mask]) > np.median(image.values[~mask]) + 100


def test_processing_3_never_keeps_anything_on_the_border() -> None:
    # Given: an abdominal MR whose body touches the image edges
    image = first_slice("examples_overlay.dcm")
    # When
    mask = run("processing_3", image)
    # Then
    border = np.concatenate([mask[0, :], mask[-1, :], mask[:, 0], mask[:, -1]])
    assert not border.any()
    assert component_count(mask) >= 2  # kidneys at least


def test_processing_2_outlines_the_segmentation_edges_of_liver_1frame() -> None:
    # Given: a binary segmentation (SEG, 1 bit): its only edges are the liver outline
    image = first_slice("liver_1frame.dcm")
    # When
    mask = run("processing_2", image)
    # Then: a band around the boundary, inside and outside of it
    assert image.values[mask].min() == 0
    assert image.values[mask].max() == 1
    assert mask.sum() < 0.05 * mask.size


@pytest.mark.parametrize("algo_id", sorted(REGISTRY))
def test_a_flat_image_gives_an_empty_mask(algo_id: str) -> None:
    # Given: a uniform slice (no structure at all)
    image = Slice("flat", 1, 0, np.full((64, 64), 100, np.float32), None, None, inverted=False)
    # When
    mask = run(algo_id, image)
    # Then
    assert not mask.any()
