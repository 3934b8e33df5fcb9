"""The OpenML path, exercised offline on a small ARFF file that the test writes.

``fetch_openml`` is pointed at a fake OpenML server (an in-process HTTP
handler is unnecessary: sklearn's loader reads through ``urlopen``, which we
replace) so the real parsing and validation code runs without network.
"""

import gzip
import hashlib
import io
import json

import pytest

from trustlab import DataError
from trustlab.datasets import load_openml

ARFF = """@RELATION tiny
@ATTRIBUTE age NUMERIC
@ATTRIBUTE sex {F,M}
@ATTRIBUTE class {bad,good}
@DATA
""" + "\n".join(f"{20 + i},{'F' if i % 2 else 'M'},{'good' if i % 3 else 'bad'}" for i in range(40)) + "\n"


def _fake_urlopen(url, *args, **kwargs):
    url = getattr(url, "full_url", url)
    if "/data/list/" in url or "api/v1/json/data/list" in url:
        body = {"data": {"dataset": [{"did": 999, "name": "tiny", "version": 1, "status": "active"}]}}
    elif "api/v1/json/data/features/" in url:
        body = {"data_features": {"feature": [
            {"index": "0", "name": "age", "data_type": "numeric", "is_target": "false",
             "is_ignore": "false", "is_row_identifier": "false", "number_of_missing_values": "0"},
            {"index": "1", "name": "sex", "data_type": "nominal", "nominal_value": ["F", "M"],
             "is_target": "false", "is_ignore": "false", "is_row_identifier": "false",
             "number_of_missing_values": "0"},
            {"index": "2", "name": "class", "data_type": "nominal", "nominal_value": ["bad", "good"],
             "is_target": "true", "is_ignore": "false", "is_row_identifier": "false",
             "number_of_missing_values": "0"},
        ]}}
    elif "api/v1/json/data/qualities/" in url:
        body = {"data_qualities": {"quality": []}}
    elif "api/v1/json/data/" in url:
        body = {"data_set_description": {
            "id": "999", "name": "tiny", "description": "tiny test set", "version": "1", "format": "ARFF", "file_id": "1",
            "default_target_attribute": "class", "status": "active",
            "md5_checksum": hashlib.md5(ARFF.encode()).hexdigest(), "url": "https://www.openml.org/data/v1/download/1",
        }}
    elif "download" in url:
        raw = gzip.compress(ARFF.encode())
        return _Resp(raw, gz=True)
    else:
        raise AssertionError(f"unexpected url {url}")
    return _Resp(gzip.compress(json.dumps(body).encode()), gz=True)


class _Resp(io.BytesIO):
    def __init__(self, raw, gz):
        super().__init__(raw)
        self.headers = {"Content-Encoding": "gzip"} if gz else {}

    def info(self):
        return self.headers

    def getheader(self, name, default=None):
        return self.headers.get(name, default)


def test_openml_path_offline(monkeypatch, tmp_path):
    import sklearn.datasets._openml as om

    monkeypatch.setattr(om, "urlopen", _fake_urlopen)
    ds = load_openml("tiny", sensitive="sex", privileged="M", data_home=tmp_path)
    assert len(ds) == 40
    assert ds.positive_label == "good"
    assert ds.privileged == {"sex": "M"}
    assert ds.integer == ["age"]


def test_openml_unreachable_is_a_data_error(monkeypatch, tmp_path):
    import sklearn.datasets._openml as om

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(om, "urlopen", offline)
    with pytest.raises(DataError, match="could not fetch OpenML dataset"):
        load_openml("tiny", sensitive="sex", data_home=tmp_path)
