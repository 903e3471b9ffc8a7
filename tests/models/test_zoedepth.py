"""The assembled models: official layouts, golden outputs, routing, options, exportability."""
import re

import numpy as np
import pytest
import torch

import zoe_export
from zoe_export.errors import ZoeExportError
from zoe_export.models import build_model, get_variant, load_model

from helpers import inputs_routed_apart, routing_nk_state

OFFICIAL = ("M12-N", "M12-K", "M12-NK")
TINY = ("test-N", "test-K", "test-NK")


def _official_keys(reference_dir, variant):
    rows = {}
    for line in open(reference_dir / f"official_keys_{variant}.txt"):
        m = re.match(r"^(\S+) \(([^)]*)\) (\w+)$", line.strip())
        if m:
            key, shape, dtype = m.groups()
            rows[key] = (tuple(int(s) for s in shape.split(",") if s.strip()), dtype)
    return rows


@pytest.mark.parametrize("variant", OFFICIAL)
def test_state_dict_layout_is_the_official_one(reference_dir, variant):
    with torch.device("meta"):
        model = build_model(variant)
    ours = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}
    assert ours == _official_keys(reference_dir, variant)


@pytest.mark.full_size
@pytest.mark.parametrize("variant", OFFICIAL)
def test_official_layout_weights_load_strictly(official_state_dict, variant):
    sd = official_state_dict(variant, seed=1)
    model = load_model(variant, weights={"model": {f"module.{k}": v for k, v in sd.items()}})
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], sd[k]) for k in ("conv2.weight", "core.core.scratch.output_conv.4.bias"))
    table = "core.core.pretrained.model.blocks.3.attn.relative_position_bias_table"
    assert torch.equal(loaded[table], sd[table])


@pytest.mark.full_size
def test_full_size_n_reproduces_the_official_outputs(official_state_dict, reference_dir, zoe_weights):
    """Golden: the official ZoeD_N's outputs for seeded weights; REL <= 2e-6 (float32 reordering)."""
    golden = np.load(reference_dir / "golden" / "official_M12-N.npz")
    model = load_model("M12-N", weights=official_state_dict("M12-N", seed=0))
    for kind in ("scene", "noise"):
        with torch.inference_mode():
            ours = model(zoe_weights.make_input(384, 512, kind))["metric_depth"].numpy()
        reference = golden[f"{kind}_metric_depth"]
        assert ours.shape == reference.shape == (1, 1, 384, 512)
        rel = float(np.mean(np.abs(ours - reference) / reference))
        assert rel <= 2e-6, f"{kind}: REL {rel:.2e}"


@pytest.mark.full_size
def test_full_size_forward_on_seeded_random_weights():
    """Runs without the reference data too: the full BEiT-L model end to end, in the official layout."""
    model = load_model("M12-NK", weights="random", seed=0)
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 384, 512, generator=torch.Generator().manual_seed(0)))
    depth = out["metric_depth"]
    assert depth.shape == (1, 1, 384, 512) and torch.isfinite(depth).all() and (depth > 0).all()
    assert out["domain_logits"].shape == (1, 2)
    assert depth.std() > 0  # random weights still move the output across the image


@pytest.mark.parametrize("variant", TINY)
def test_forward_contract_and_batch_independence(variant):
    model = load_model(variant, weights="random")
    x = torch.rand(3, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = model(x)
        single = model(x[1:2])
    assert out["metric_depth"].shape == (3, 1, 64, 96) and out["metric_depth"].dtype == torch.float32
    assert torch.isfinite(out["metric_depth"]).all() and (out["metric_depth"] > 0).all()
    assert ("domain_logits" in out) == variant.endswith("NK")
    torch.testing.assert_close(out["metric_depth"][1:2], single["metric_depth"], rtol=1e-5, atol=1e-6)


def test_input_of_the_wrong_size_names_the_fix():
    model = load_model("test-N", weights="random")
    with pytest.raises(ZoeExportError, match=r"\[B, 3, 64, 96\].*prepare"):
        model(torch.rand(1, 3, 64, 64))


@pytest.mark.parametrize("variant,size", [("test-N", (96, 64)), ("test-K", (128, 160)), ("test-NK", (32, 64))])
def test_any_multiple_of_32(variant, size):
    model = load_model(variant, weights="random", height=size[0], width=size[1])
    with torch.inference_mode():
        assert model(torch.rand(2, 3, *size))["metric_depth"].shape == (2, 1, *size)


@pytest.mark.parametrize("kwargs,match", [
    (dict(variant="test-N", height=100), "multiples of 32"),
    (dict(variant="test-N", domain="nyu"), "NK variants only"),
    (dict(variant="test-NK", max_depth=80), "unbounded"),
    (dict(variant="test-N", max_depth=5), "K variants only"),
    (dict(variant="test-NK", domain="indoor"), "choose one of"),
    (dict(variant="M12-KN"), "Did you mean"),
])
def test_bad_options_name_the_fix(kwargs, match):
    with pytest.raises(ZoeExportError, match=match):
        load_model(weights="random", **kwargs)


def test_nk_routes_each_sample_of_a_batch_to_its_own_head():
    state = routing_nk_state()
    auto = load_model("test-NK", weights=state)
    nyu = load_model("test-NK", weights=state, domain="nyu")
    kitti = load_model("test-NK", weights=state, domain="kitti")
    x_nyu, x_kitti = inputs_routed_apart(auto)
    batch = torch.cat([x_nyu, x_kitti, x_nyu])
    with torch.inference_mode():
        out = auto(batch)
        expected = torch.cat([nyu(x_nyu)["metric_depth"], kitti(x_kitti)["metric_depth"], nyu(x_nyu)["metric_depth"]])
        assert out["domain_logits"].argmax(1).tolist() == [0, 1, 0]
        assert not torch.allclose(nyu(x_kitti)["metric_depth"], kitti(x_kitti)["metric_depth"])
    torch.testing.assert_close(out["metric_depth"], expected, rtol=1e-5, atol=1e-6)


def test_fixed_domain_drops_the_other_head_and_keeps_the_router():
    state = routing_nk_state()
    model = load_model("test-NK", weights=state, domain="kitti")
    keys = set(model.state_dict())
    assert not any(".nyu." in k for k in keys) and any(".kitti." in k for k in keys)
    assert any(k.startswith("patch_transformer.") for k in keys)
    with pytest.raises(ZoeExportError, match="does not match"):  # still checked against the full NK layout
        load_model("test-NK", weights={k: v for k, v in state.items() if ".nyu." not in k}, domain="kitti")
    with torch.inference_mode():
        assert model(torch.rand(2, 3, 64, 96))["domain_logits"].shape == (2, 2)


def test_k_max_depth_bounds_the_output():
    x = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    default = load_model("test-K", weights="random")
    hub = load_model("test-K", weights="random", max_depth=10)
    assert default.provenance["max_depth"] == 80.0 and hub.provenance["max_depth"] == 10.0
    with torch.inference_mode():
        d80, d10 = default(x)["metric_depth"], hub(x)["metric_depth"]
    assert d10.max() <= 10.0 + 1e-4 and d10.min() >= 1e-3
    assert d80.max() > 10.0  # random weights spread the bins over the whole range


def test_random_weights_are_seeded():
    a = load_model("test-NK", weights="random", seed=7).state_dict()
    b = load_model("test-NK", weights="random", seed=7).state_dict()
    c = load_model("test-NK", weights="random", seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv2.weight"], c["conv2.weight"])
    assert torch.equal(a["conditional_log_binomial.nyu.log_binomial_transform.k_idx"].flatten(), torch.arange(16))


@pytest.mark.slow
def test_exports_with_a_dynamic_batch_and_keeps_per_sample_routing():
    """No host-side data-dependent branch: torch.export captures the whole NK graph, routing included."""
    state = routing_nk_state()
    model = load_model("test-NK", weights=state)
    x_nyu, x_kitti = inputs_routed_apart(model)
    batch = torch.export.Dim("batch", min=1, max=8)
    program = torch.export.export(model, (torch.cat([x_nyu, x_kitti]),), dynamic_shapes=({0: batch},))
    test = torch.cat([x_kitti, x_nyu, x_kitti])
    with torch.inference_mode():
        expected = model(test)
    got = program.module()(test)
    torch.testing.assert_close(got["metric_depth"], expected["metric_depth"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got["domain_logits"], expected["domain_logits"], rtol=1e-5, atol=1e-6)


def test_package_exposes_the_api_lazily():
    assert zoe_export.load_model is load_model
    assert get_variant("zoed_m12_nk").name == "M12-NK"


@pytest.mark.parametrize("variant", ["test-N", "test-K", "test-NK"])
def test_dynamic_size_model_equals_the_fixed_size_model_at_every_size(variant):
    from zoe_export.models import at_size

    model = load_model(variant, weights="random", dynamic_size="32x32:128x192")
    assert model.size_range.text == "32x32:128x192" and model.provenance["size_range"] == "32x32:128x192"
    for size in [(32, 32), (64, 96), (96, 64), (128, 192), (64, 160)]:
        fixed = at_size(model, *size)
        x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(size[0] + size[1]))
        with torch.inference_mode():
            ours, reference = model(x), fixed(x)
        for name in reference:
            assert torch.equal(ours[name], reference[name]), (size, name)


def test_dynamic_size_refuses_sizes_outside_its_range_naming_the_option():
    model = load_model("test-N", weights="random", dynamic_size="32x32:128x192")
    with pytest.raises(ZoeExportError, match=r"outside this graph's range 32x32:128x192.*dynamic_size="):
        model(torch.rand(1, 3, 160, 96))
    with pytest.raises(ZoeExportError, match="multiples of 32"):
        model(torch.rand(1, 3, 48, 96))


@pytest.mark.parametrize("kwargs, match", [
    ({"dynamic_size": "32x32:128x192", "height": 64}, "exclude each other"),
    ({"dynamic_size": "32x30:128x192"}, "multiples of 32"),
    ({"dynamic_size": "128x192:32x32"}, "at most the next"),
    ({"dynamic_size": "64"}, "MIN_HxMIN_W:MAX_HxMAX_W"),
])
def test_bad_dynamic_sizes_name_the_fix(kwargs, match):
    with pytest.raises(ZoeExportError, match=match):
        load_model("test-N", weights="random", **kwargs)


def test_dynamic_size_default_range_and_default_size():
    model = load_model("test-N", weights="random", dynamic_size=True)
    assert model.size_range.text == "256x256:768x1344"
    assert model.image_size == (256, 256)  # the native 64x96 clamped into the range


@pytest.mark.full_size
@pytest.mark.timeout(600)
def test_full_size_dynamic_n_reproduces_the_official_outputs(official_state_dict, reference_dir, zoe_weights):
    """The dynamic-size model at 384x512 (table resampled and index generated in forward) against the golden."""
    golden = np.load(reference_dir / "golden" / "official_M12-N.npz")
    model = load_model("M12-N", weights=official_state_dict("M12-N", seed=0), dynamic_size=True)
    with torch.inference_mode():
        ours = model(zoe_weights.make_input(384, 512, "scene"))["metric_depth"].numpy()
    rel = float(np.mean(np.abs(ours - golden["scene_metric_depth"]) / golden["scene_metric_depth"]))
    assert rel <= 2e-6, f"REL {rel:.2e}"
