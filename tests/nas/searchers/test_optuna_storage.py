"""open_storage: journal files and database URLs; storages that cannot be opened are clear errors."""

from __future__ import annotations

import os

import optuna
import pytest

from nas.errors import ConfigError
from nas.searchers import open_storage


def test_none_is_in_memory():
    assert open_storage(None) is None


@pytest.mark.parametrize("prefix", ["", "journal:"])
def test_a_path_is_a_journal_file(tmp_path, prefix):
    storage = open_storage(f"{prefix}{tmp_path / 'study.log'}")
    assert isinstance(storage, optuna.storages.JournalStorage)
    optuna.create_study(storage=storage, study_name="s").optimize(lambda t: t.suggest_int("x", 0, 3), n_trials=2)
    again = optuna.load_study(study_name="s", storage=open_storage(tmp_path / "study.log"))
    assert len(again.trials) == 2


def test_journal_appends_are_not_fsynced_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: pytest.fail("the journal fsynced an append"))
    study = optuna.create_study(storage=open_storage(tmp_path / "study.log"), study_name="s")
    study.optimize(lambda t: t.suggest_int("x", 0, 9), n_trials=3)
    fresh = optuna.load_study(study_name="s", storage=open_storage(tmp_path / "study.log"))
    assert [t.params for t in fresh.trials] == [t.params for t in study.trials]


def test_sqlite_url_is_a_database(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    assert isinstance(storage, optuna.storages.RDBStorage)


@pytest.mark.parametrize("url, expected", [
    ("/nonexistent/dir/study.log", "cannot open Optuna journal storage /nonexistent/dir/study.log: folder "
                                   "/nonexistent/dir does not exist; create the folder"),
    ("sqlite:////nonexistent/dir/x.db", "cannot open Optuna storage 'sqlite:////nonexistent/dir/x.db': folder "
                                        "/nonexistent/dir does not exist; create it"),
    ("postgresql://nobody@127.0.0.1:1/nothing", "cannot open Optuna storage 'postgresql://nobody@127.0.0.1:1/"
                                                "nothing' .*check the URL"),
    ("nosuchdialect://x/y", "cannot open Optuna storage 'nosuchdialect://x/y' .*check the URL"),
])
def test_storage_that_cannot_be_opened_is_a_config_error(url, expected):
    with pytest.raises(ConfigError, match=expected):
        open_storage(url)


def test_a_folder_is_not_a_journal(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path} is a folder, not a file: name a file such as "
                                          f"{tmp_path}/optuna_journal.log"):
        open_storage(tmp_path)
