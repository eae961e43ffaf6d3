"""Shared fixtures: the raw NVMExplorer directory and the technology table built from it."""

from pathlib import Path

import pytest

from lmrepro.edge import tech
from tests.conftest import SHARED_DATA

NVM_DIR = SHARED_DATA / "energy" / "nvmexplorer"
FILES = {
    "SRAM": "SRAM_1BPC-combined.csv",
    "RRAM": "RRAM_1BPC-combined.csv",
    "STT": "STT_1BPC-combined.csv",
    "PCM": "PCM_1BPC-combined.csv",
    "FeFET": "FeFET_1BPC-combined.csv",
}


@pytest.fixture(scope="session")
def nvm_dir() -> Path:
    if not NVM_DIR.is_dir():
        pytest.skip(f"raw NVMExplorer data not found at {NVM_DIR}")
    return NVM_DIR


@pytest.fixture(scope="session")
def tech_tables(nvm_dir):
    return tech.build_table(nvm_dir, tech.TechConfig(files=FILES))


@pytest.fixture(scope="session")
def tech_table(tech_tables):
    return tech_tables[0]
