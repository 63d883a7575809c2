"""Ground truth: stand-alone recipes, the resumable builder, records and oracles."""

from nas.benchmarks.builder import build_ground_truth, sample_distinct
from nas.benchmarks.oracle import Oracle, TableOracle, build_oracle
from nas.benchmarks.recipe import StandaloneRecipe, train_standalone
from nas.benchmarks.records import RecordsError, load_records, mean_accuracy, write_records

__all__ = [
    "Oracle",
    "RecordsError",
    "StandaloneRecipe",
    "TableOracle",
    "build_ground_truth",
    "build_oracle",
    "load_records",
    "mean_accuracy",
    "sample_distinct",
    "train_standalone",
    "write_records",
]
