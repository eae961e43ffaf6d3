"""Mixture of Task Adapters (MTA), the module ALTER adds to a small LM.

One bottleneck adapter per task (intra-task knowledge) plus ``n_shared`` shared adapters
(inter-task knowledge) sit at the feed-forward position of the top block(s). A task-ID
router mixes them: task t has learnable gate logits g_t over all experts and uses
``w_t = softmax(g_t / temperature)``, dense over the experts, one choice per sequence, as
in the authors' released code (papers.md section 2). Output: ``y + sum_k w_t[k] A_k(y)``.

Routing modes
- ``own``: only the task's own adapter (stage 1: each adapter learns its task alone).
- ``gate``: the softmax mixture (stage 2 and the one-stage joint baseline).

Dimensions: B batch, S tokens, H hidden, K experts (= tasks + shared when the mixture
has task experts, else shared only).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lmrepro.errors import LmreproError
from lmrepro.mta.adapter import BottleneckAdapter

ROUTINGS = ("own", "gate")


@dataclass(frozen=True)
class MixtureConfig:
    blocks: int = 1  # top blocks that get a mixture; the authors' code uses the last block only
    bottleneck: int = 64  # adapter width; ~50k params per adapter on a 384-wide model
    n_shared: int = 1  # shared adapters for inter-task knowledge (the code's shared-expert variant)
    temperature: float = 0.1  # gate softmax temperature; 0.1 as in the authors' code
    gate_init_own: float = 0.5  # initial logit of a task's own adapter: softmax(5) ~ 0.94 at T=0.1,
    #                             so stage 2 starts from the stage-1 solution
    dropout: float = 0.1  # adapter dropout, the usual adapter default

    def __post_init__(self) -> None:
        if self.blocks < 1:
            raise LmreproError(f"mta mixture.blocks must be >= 1, got {self.blocks}")
        if self.bottleneck < 1:
            raise LmreproError(f"mta mixture.bottleneck must be >= 1, got {self.bottleneck}")
        if self.n_shared < 0:
            raise LmreproError(f"mta mixture.n_shared must be >= 0, got {self.n_shared}")
        if not self.temperature > 0:
            raise LmreproError(f"mta mixture.temperature must be > 0, got {self.temperature}")


def task_index(tasks: list[str], task: str) -> int:
    """Index of ``task``; an unknown task id is a user error naming the known ones."""
    try:
        return tasks.index(task)
    except ValueError:
        raise LmreproError(f"unknown task {task!r}: this model knows tasks {tasks}") from None


class MixtureOfTaskAdapters(nn.Module):
    """Task-routed mixture of bottleneck adapters at one FFN position."""

    def __init__(self, hidden: int, tasks: list[str], cfg: MixtureConfig, task_experts: bool = True) -> None:
        super().__init__()
        if not tasks:
            raise LmreproError("a mixture of task adapters needs at least one task")
        if not task_experts and cfg.n_shared < 1:
            raise LmreproError("a mixture without task adapters needs n_shared >= 1")
        self.tasks = list(tasks)
        self.cfg = cfg
        self.task_experts = task_experts
        self.routing = "gate"
        n_task = len(tasks) if task_experts else 0
        self.task_adapters = nn.ModuleList(
            BottleneckAdapter(hidden, cfg.bottleneck, cfg.dropout) for _ in range(n_task)
        )
        self.shared_adapters = nn.ModuleList(
            BottleneckAdapter(hidden, cfg.bottleneck, cfg.dropout) for _ in range(cfg.n_shared)
        )
        n_experts = n_task + cfg.n_shared
        logits = torch.zeros(len(tasks), n_experts)  # [T, K]
        if task_experts:
            logits[torch.arange(n_task), torch.arange(n_task)] = cfg.gate_init_own
        self.gate_logits = nn.Parameter(logits)

    @property
    def experts(self) -> list[nn.Module]:
        return [*self.task_adapters, *self.shared_adapters]

    def set_routing(self, routing: str) -> None:
        if routing not in ROUTINGS:
            raise LmreproError(f"unknown routing {routing!r}; expected one of {ROUTINGS}")
        if routing == "own" and not self.task_experts:
            raise LmreproError("routing 'own' needs task adapters")
        self.routing = routing

    def gate_weights(self, task: str) -> torch.Tensor:
        """Mixture weights of ``task`` over the experts: [K], sums to 1."""
        t = task_index(self.tasks, task)
        return torch.softmax(self.gate_logits[t] / self.cfg.temperature, dim=-1)

    def forward(self, y: torch.Tensor, task: str) -> torch.Tensor:
        # y: [B, S, H] FFN output of the block; returns y + mixture delta, [B, S, H]
        if self.routing == "own":
            return y + self.task_adapters[task_index(self.tasks, task)](y)
        w = self.gate_weights(task)  # [K]
        deltas = torch.stack([expert(y) for expert in self.experts], dim=0)  # [K, B, S, H]
        return y + torch.einsum("k,kbsh->bsh", w, deltas)
