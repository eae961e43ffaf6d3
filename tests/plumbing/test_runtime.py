"""A stage's process-wide knobs: seeding turns on torch's deterministic kernels without
loading torch's compiler stack (seconds of every stage's start)."""

from __future__ import annotations

import json
import subprocess
import sys


def _in_fresh_process(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def test_seeding_makes_torch_deterministic_without_importing_the_compiler():
    state = _in_fresh_process(
        "import json, sys, torch\n"
        "from lmrepro.runtime import seed_everything\n"
        "seed_everything(7)\n"
        "print(json.dumps({'on': torch.are_deterministic_algorithms_enabled(),\n"
        "                  'warn_only': torch.is_deterministic_algorithms_warn_only_enabled(),\n"
        "                  'dynamo': 'torch._dynamo' in sys.modules,\n"
        "                  'draw': torch.rand(1).item()}))\n")
    assert state["on"] and state["warn_only"]
    assert not state["dynamo"], "seeding imported torch._dynamo (the compiler stack)"
    again = _in_fresh_process("import json, torch\nfrom lmrepro.runtime import seed_everything\n"
                              "seed_everything(7)\nprint(json.dumps({'draw': torch.rand(1).item()}))\n")
    assert again["draw"] == state["draw"]


def test_with_the_compiler_loaded_its_flag_follows_too():
    state = _in_fresh_process(
        "import json, torch, torch._inductor.config as cfg\n"
        "cfg.deterministic = False\n"
        "from lmrepro.runtime import seed_everything\n"
        "seed_everything(7)\n"
        "print(json.dumps({'on': torch.are_deterministic_algorithms_enabled(), 'inductor': cfg.deterministic}))\n")
    assert state == {"on": True, "inductor": True}
