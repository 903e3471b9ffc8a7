"""Generated scenes: the demo room, and varied photos of it for smoke-run calibration."""
import numpy as np
import pytest

from zoe_export.io.synthetic import demo_scene, scene_variants


@pytest.mark.slow
def test_scene_variants_are_deterministic_and_varied():
    a, b = scene_variants(4, seed=3), scene_variants(4, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len({x.shape for x in a}) > 1 and all(x.dtype == np.uint8 and x.shape[2] == 3 for x in a)
    assert not np.array_equal(scene_variants(1, seed=4)[0], a[0])
    assert np.array_equal(demo_scene(), demo_scene())
