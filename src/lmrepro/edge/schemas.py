"""Pandera schemas of the edge track's tables (validated on write and read)."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series

from lmrepro.schema import StrictTable


class TechTable(StrictTable):
    """One valid NVSim array per technology x cell case x optimization target."""

    technology: Series[str]
    cell_case: Series[str] = pa.Field(isin=["best", "worst"])
    target: Series[str]
    word_bits: Series[int] = pa.Field(gt=0)
    node_nm: Series[float] = pa.Field(gt=0)
    bits_per_cell: Series[int] = pa.Field(ge=1)
    cell_area_f2: Series[float] = pa.Field(gt=0)
    area_mm2: Series[float] = pa.Field(gt=0)
    read_latency_ns: Series[float] = pa.Field(gt=0)
    write_latency_ns: Series[float] = pa.Field(gt=0)
    read_energy_pj: Series[float] = pa.Field(gt=0)
    write_energy_pj: Series[float] = pa.Field(gt=0)
    leakage_mw: Series[float] = pa.Field(ge=0)
    capacity_bytes: Series[int] = pa.Field(gt=0)
    source_file: Series[str]

    class Config:
        unique = ["technology", "cell_case", "target"]


class FailedTech(StrictTable):
    """Characterizations NVSim could not produce (all result columns -1)."""

    technology: Series[str]
    cell_case: Series[str]
    target: Series[str]
    source_file: Series[str]


class Workload(StrictTable):
    """Parameters, reads and MACs per role of one model (see workload.py)."""

    model: Series[str]
    role: Series[str] = pa.Field(isin=["embedding", "projection", "layers", "pooler", "adapters", "head"])
    placement: Series[str] = pa.Field(isin=["backbone", "task"])
    per_task: Series[bool]
    params: Series[float] = pa.Field(ge=0)
    read_params: Series[float] = pa.Field(ge=0)
    macs: Series[float] = pa.Field(ge=0)
    in_plain: Series[bool]
    bytes: Series[float] = pa.Field(ge=0)
    read_bytes: Series[float] = pa.Field(ge=0)
    weight_bits: Series[int] = pa.Field(gt=0)
    seq_len: Series[int] = pa.Field(gt=0)
    bottleneck: Series[int] = pa.Field(ge=0)

    class Config:
        unique = ["model", "bottleneck", "role"]


class EnergyResults(StrictTable):
    """One scenario of the sweep per row (design x model x adapter size x tasks x rate x
    switch rate x sparsity); energies per inference in uJ."""

    model: Series[str]
    bottleneck: Series[int] = pa.Field(ge=0)
    n_tasks: Series[int] = pa.Field(ge=1)
    rate_hz: Series[float] = pa.Field(gt=0)
    switch_rate: Series[float] = pa.Field(ge=0, le=1)
    sparsity: Series[float] = pa.Field(ge=0, lt=1)
    design: Series[str] = pa.Field(
        isin=["all_sram", "dram_reload", "hetero", "dram_reload_sr", "gated_sram", "all_envm"])
    backbone_tech: Series[str]
    offchip: Series[str] = pa.Field(isin=["none", "DRAM", "flash"])  # the off-chip store it refills from
    design_label: Series[str]
    read_uj: Series[float] = pa.Field(ge=0)
    mac_uj: Series[float] = pa.Field(ge=0)
    leak_uj: Series[float] = pa.Field(ge=0)
    reload_uj: Series[float] = pa.Field(ge=0)
    standby_uj: Series[float] = pa.Field(ge=0)
    total_uj: Series[float] = pa.Field(gt=0)
    latency_ms: Series[float] = pa.Field(gt=0)
    duty_cycle: Series[float] = pa.Field(ge=0, le=1)
    feasible: Series[bool]
    sram_bytes: Series[float] = pa.Field(ge=0)
    envm_bytes: Series[float] = pa.Field(ge=0)
    offchip_bytes: Series[float] = pa.Field(ge=0)
    area_mm2: Series[float] = pa.Field(gt=0)
    lifetime_years: Series[float] = pa.Field(gt=0)  # eNVM wear-out at this switch rate; inf: never written


class Robustness(StrictTable):
    """Accuracy of the trained model under one backbone perturbation and seed."""

    condition: Series[str] = pa.Field(isin=["fp32", "int8", "int8_pruned", "int8_bit_errors"])
    sparsity: Series[float] = pa.Field(ge=0, lt=1)
    bit_error_rate: Series[float] = pa.Field(ge=0, le=1)
    seed: Series[int]
    task: Series[str]
    metric: Series[str]
    value: Series[float]
    flipped_bits: Series[int] = pa.Field(ge=0)
    stored_backbone_bits: Series[int] = pa.Field(ge=0)


class RobustnessPredictions(StrictTable):
    """One evaluated test row under one backbone perturbation point: the paired outcomes.

    ``row`` is the example's position within its task's split in data/nlu/tasks.parquet;
    every point of the sweep holds the same (task, row) set."""

    condition: Series[str] = pa.Field(isin=["fp32", "int8", "int8_pruned", "int8_bit_errors"])
    sparsity: Series[float] = pa.Field(ge=0, lt=1)
    bit_error_rate: Series[float] = pa.Field(ge=0, le=1)
    seed: Series[int]
    task: Series[str]
    row: Series[int] = pa.Field(ge=0)
    pred: Series[int] = pa.Field(ge=0)
    label: Series[int] = pa.Field(ge=0)
    correct: Series[bool]

    class Config:
        unique = ["condition", "sparsity", "bit_error_rate", "seed", "task", "row"]

    @pa.dataframe_check(error="every perturbation point must cover the same (task, row) set")
    def same_rows_everywhere(cls, df):  # noqa: N805
        keys = df.groupby(["condition", "sparsity", "bit_error_rate", "seed"]).size()
        return bool(keys.nunique() <= 1)

    @pa.dataframe_check(error="correct must equal pred == label")
    def correct_is_pred_eq_label(cls, df):  # noqa: N805
        return df["correct"] == (df["pred"] == df["label"])
