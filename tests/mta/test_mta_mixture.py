import pytest
import torch

from lmrepro.errors import LmreproError
from lmrepro.mta.mixture import MixtureConfig, MixtureOfTaskAdapters
from lmrepro.mta.fusion import AdapterFusion

TASKS = ["sst2", "cola", "msrp"]


def test_gate_weights_sum_to_one_per_task():
    torch.manual_seed(0)
    mix = MixtureOfTaskAdapters(16, TASKS, MixtureConfig(bottleneck=4, n_shared=2, temperature=0.1))
    with torch.no_grad():
        mix.gate_logits.normal_()  # arbitrary logits, not just the initial ones
    for task in TASKS:
        w = mix.gate_weights(task)
        assert w.shape == (len(TASKS) + 2,)
        assert torch.all(w >= 0)
        assert torch.isclose(w.sum(), torch.tensor(1.0), atol=1e-6)


def test_gate_starts_on_own_adapter_and_temperature_sharpens():
    cfg = MixtureConfig(bottleneck=4, n_shared=1, temperature=0.1, gate_init_own=0.5)
    mix = MixtureOfTaskAdapters(16, TASKS, cfg)
    for t_i, task in enumerate(TASKS):
        assert int(mix.gate_weights(task).argmax()) == t_i
    soft = MixtureOfTaskAdapters(16, TASKS, MixtureConfig(bottleneck=4, temperature=10.0))
    assert soft.gate_weights("sst2").max() < mix.gate_weights("sst2").max()


@pytest.mark.parametrize("routing", ["own", "gate"])
def test_unknown_task_raises(routing):
    mix = MixtureOfTaskAdapters(16, TASKS, MixtureConfig(bottleneck=4))
    mix.set_routing(routing)
    with pytest.raises(LmreproError, match="unknown task 'mnli'.*sst2"):
        mix(torch.zeros(2, 3, 16), "mnli")
    with pytest.raises(LmreproError, match="unknown task"):
        AdapterFusion(16, TASKS, MixtureConfig(bottleneck=4))(torch.zeros(2, 3, 16), "mnli")


def test_fresh_mixture_is_identity_and_own_routing_uses_one_adapter():
    torch.manual_seed(0)
    mix = MixtureOfTaskAdapters(16, TASKS, MixtureConfig(bottleneck=4, dropout=0.0)).eval()
    y = torch.randn(2, 3, 16)
    assert torch.equal(mix(y, "cola"), y)  # zero-initialised up-projections
    with torch.no_grad():
        for k, adapter in enumerate(mix.experts):
            adapter.up.bias.fill_(float(k + 1))
    mix.set_routing("own")
    assert torch.allclose(mix(y, "cola") - y, torch.full_like(y, 2.0))  # cola is adapter 1
    mix.set_routing("gate")
    w = mix.gate_weights("cola").detach()
    expected = sum(float(w[k]) * (k + 1) for k in range(len(w)))
    assert torch.allclose(mix(y, "cola") - y, torch.full_like(y, expected), atol=1e-5)


def test_bad_config_names_the_key():
    with pytest.raises(LmreproError, match="temperature"):
        MixtureConfig(temperature=0.0)
    with pytest.raises(LmreproError, match="routing"):
        MixtureOfTaskAdapters(16, TASKS, MixtureConfig(bottleneck=4)).set_routing("topk")
