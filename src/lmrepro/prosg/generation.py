"""Greedy generation with the recurrent state passed token by token (the deployment path).

Scoring uses the teacher-forced equivalent in :mod:`lmrepro.prosg.sequences`; this
module exists for the benchmark (tokens per second) and to test that equivalence.
"""

from __future__ import annotations

import torch

from lmrepro.prosg.synthetic_gradient import LowRankUpdate, applied


@torch.no_grad()
def greedy(model, prompt: list[int], rest: list[int], max_new: int, end_id: int,
           update: LowRankUpdate | None = None) -> list[int]:
    """Feed ``prompt`` with the base weights, then ``rest`` and the generated tokens with
    the update (if any), stopping at ``end_id``. Returns generated ids (end excluded)."""
    device = next(model.parameters()).device
    out = model(input_ids=torch.tensor([prompt], device=device), use_cache=True)
    state = out.state
    logits = out.logits[:, -1]
    generated: list[int] = []
    with applied(model, update):
        if rest:
            out = model(input_ids=torch.tensor([rest], device=device), state=state, use_cache=True)
            state, logits = out.state, out.logits[:, -1]
        for _ in range(max_new):
            nxt = int(logits.argmax(-1))
            if nxt == end_id:
                break
            generated.append(nxt)
            out = model(input_ids=torch.tensor([[nxt]], device=device), state=state, use_cache=True)
            state, logits = out.state, out.logits[:, -1]
    return generated
