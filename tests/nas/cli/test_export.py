"""`nas export` as a user runs it: files, what it prints, and one line + exit 2 for each bad input."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from omegaconf import OmegaConf

import nas.export
from nas.checkpoint import load_checkpoint, save_atomic
from nas.cli.main import main
from nas.run_folder import ExportFolder, RunFolder

onnxruntime = pytest.importorskip("onnxruntime")

@pytest.fixture
def smoke_run(trained_smoke_run):
    """A finished `nas run preset=smoke` (tests/nas/cli/conftest.py), without exports of earlier tests."""
    shutil.rmtree(trained_smoke_run / "export", ignore_errors=True)
    return trained_smoke_run


def nas_export(monkeypatch, capsys, cwd, *args: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, stderr lines) of ``nas export <args>`` in this process."""
    monkeypatch.chdir(cwd)
    code = 0
    try:
        main(["export", "threads=1", *args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if "Warning" not in line
                                and not line.startswith("  warnings.warn")]


def test_export_writes_checked_files_and_says_how_to_load_them(smoke_run, tmp_path, monkeypatch, capsys):
    code, out, err = nas_export(monkeypatch, capsys, tmp_path, f"run_dir={smoke_run}", "rank=2")
    assert code == 0 and not err, err
    ranker, combined = RunFolder(smoke_run).read_combined_ranking()  # the order `nas run` printed
    best = combined[1]
    folder = ExportFolder(smoke_run / "export" / "rank2")
    assert f"exported rank 2 of 12 by {ranker}: {best.arch}" in out
    assert f"supernet accuracy {best.score:.2f}%, exported model {best.score:.2f}% on 256 valid images" in out
    for path in (folder.state_dict, folder.torchscript, folder.onnx, folder.manifest):
        assert str(path) in out and path.is_file()
    assert f"nas.export.load_model('{folder.path}')" in out
    manifest = folder.read_manifest()
    assert manifest.source["rank"] == 2 and manifest.source["exported_valid_accuracy"] == pytest.approx(best.score)
    images = torch.randn(3, 1, 8, 8)
    session = onnxruntime.InferenceSession(str(folder.onnx), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(session.run(["logits"], {"images": images.numpy()})[0]),
                                   nas.export.load_model(folder.path)(images), rtol=1e-5, atol=1e-5)
    assert sorted(p.name for p in (smoke_run / "export").iterdir()) == ["rank2"]


def test_the_default_child_is_the_one_nas_run_printed_first_and_ranking_supernet_takes_the_supernets_order(
        smoke_run, tmp_path, monkeypatch, capsys):
    folder = RunFolder(smoke_run)
    ranker, combined = folder.read_combined_ranking()
    supernet_order = folder.read_ranking()
    assert ranker == "supernet + effective_params + synflow + jacob_cov (mean rank)"
    assert sorted(c.arch for c in combined) == sorted(r.arch for r in supernet_order)
    assert [c.arch for c in combined] != [r.arch for r in supernet_order]  # the orders differ on this run
    code, out, _ = nas_export(monkeypatch, capsys, tmp_path, f"run_dir={smoke_run}")
    assert code == 0 and f"exported rank 1 of 12 by {ranker}: {combined[0].arch}" in out
    assert ExportFolder(smoke_run / "export" / "rank1").read_config()["arch"] == combined[0].arch
    code, out, _ = nas_export(monkeypatch, capsys, tmp_path, f"run_dir={smoke_run}", "ranking=supernet", "rank=3")
    assert code == 0 and f"exported rank 3 of 12 by supernet accuracy: {supernet_order[2].arch}" in out
    manifest = ExportFolder(smoke_run / "export" / "supernet-rank3").read_manifest()
    assert manifest.source["ranked_by"] == "supernet accuracy" and manifest.source["rank"] == 3
    old_run = tmp_path / "old_run"  # a folder from before combined_ranking.json: the supernet's order, as then
    shutil.copytree(smoke_run, old_run, ignore=shutil.ignore_patterns("export"))
    (old_run / "combined_ranking.json").unlink()
    code, out, _ = nas_export(monkeypatch, capsys, tmp_path, f"run_dir={old_run}")
    assert code == 0 and f"exported rank 1 of 12 by supernet accuracy: {supernet_order[0].arch}" in out
    assert (old_run / "export" / "rank1").is_dir()


def test_bad_inputs_are_one_line_and_exit_2_with_no_files(smoke_run, tmp_path, monkeypatch, capsys):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(smoke_run, unfinished, ignore=shutil.ignore_patterns("export"))
    state = load_checkpoint(RunFolder(unfinished).checkpoint)
    state["train_state"]["step"] = state["total_steps"] // 2
    save_atomic(state, RunFolder(unfinished).checkpoint)
    untrained = tmp_path / "untrained"
    shutil.copytree(smoke_run, untrained, ignore=shutil.ignore_patterns("export", "checkpoints"))
    oracle_search = tmp_path / "oracle_search"  # what `nas search objective=oracle` saves: no supernet behind it
    RunFolder(oracle_search).save_config(OmegaConf.create({"train_dir": None, "objective": "oracle"}), [])
    cases = [
        ([f"run_dir={smoke_run}", "rank=13"], "rank=13 is beyond the ranking of 12 children; use rank between 1 and 12"),
        ([f"run_dir={smoke_run}", "arch='|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|'"], "conv_9x9"),
        ([f"run_dir={unfinished}"], "holds an unfinished training run (step 8 of 16)"),
        ([f"run_dir={untrained}"], "does not exist: train first"),
        ([f"run_dir={tmp_path / 'nowhere'}"], "does not exist: point it at the folder of a finished"),
        ([f"run_dir={oracle_search}"], "searched a benchmark's table (objective=oracle): it has no supernet"),
        ([f"run_dir={tmp_path}"], "is not a run folder"),
        (["export.onnx_tolerance=-1", f"run_dir={smoke_run}"], "export.onnx_tolerance=-1"),
    ]
    for args, expected in cases:
        code, out, err = nas_export(monkeypatch, capsys, tmp_path, *args)
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and expected in err[0], (args, err)
        assert "Traceback" not in out
    assert not (unfinished / "export").exists() and not (untrained / "export").exists()


def test_a_failed_onnx_check_is_one_line_and_leaves_no_files(smoke_run, tmp_path, monkeypatch, capsys):
    real = nas.export._onnx_outputs
    monkeypatch.setattr(nas.export, "_onnx_outputs", lambda path, x: real(path, x) * 1.01 + 0.01)
    target = tmp_path / "child"
    code, out, err = nas_export(monkeypatch, capsys, tmp_path, f"run_dir={smoke_run}", f"export.dir={target}")
    assert code == 2 and len(err) == 1 and "the exported onnx model's outputs differ from PyTorch's" in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_the_manifest_is_json_a_user_can_read(smoke_run, tmp_path, monkeypatch, capsys):
    target = tmp_path / "best"
    code, _, err = nas_export(monkeypatch, capsys, tmp_path, f"run_dir={smoke_run}", f"export.dir={target}",
                              "export.bn_policy=running_stats")
    assert code == 0, err
    record = json.loads((target / "export.json").read_text())
    assert record["source"]["rank"] == 1 and record["source"]["bn_policy"] == "running_stats"
    assert set(record["max_abs_error"]) == {"state_dict", "torchscript", "onnx"}
