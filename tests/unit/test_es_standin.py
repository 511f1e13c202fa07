"""The Elasticsearch bulk-API stand-in (not Elasticsearch): product check, bulk indexing per
index, per-item results, fault injection, read-back."""

from __future__ import annotations

import gzip
import http.client
import json
import time

import pytest

from devstack.es_standin import ElasticsearchStandin, StandinClient, parse_bulk


@pytest.fixture()
def standin():
    with ElasticsearchStandin() as server:
        yield server


def _request(server: ElasticsearchStandin, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _ndjson(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def test_root_answers_like_an_elasticsearch_8_cluster(standin):
    status, headers, body = _request(standin, "GET", "/")
    assert status == 200
    assert headers["X-Elastic-Product"] == "Elasticsearch"
    assert json.loads(body)["version"]["number"].startswith("8.")
    assert StandinClient(standin.url).healthy()


def test_bulk_records_documents_per_index_with_per_item_results(standin):
    body = _ndjson(
        {"create": {"_index": "logs-vitalyst"}}, {"body": {"text": "one"}, "trace_id": "a" * 32},
        {"create": {"_index": "audit-vitalyst"}}, {"attributes": {"log.type": "audit"}},
        {"index": {}}, {"body": {"text": "default index"}},
    )
    status, headers, raw = _request(standin, "POST", "/logs-vitalyst/_bulk", body,
                                    {"Content-Type": "application/x-ndjson"})
    assert status == 200 and headers["X-Elastic-Product"] == "Elasticsearch"
    result = json.loads(raw)
    assert result["errors"] is False
    assert [next(iter(item.values()))["status"] for item in result["items"]] == [201, 201, 201]
    client = StandinClient(standin.url)
    assert client.indices() == {"logs-vitalyst": 2, "audit-vitalyst": 1}
    assert [d["body"]["text"] for d in client.docs("logs-vitalyst")] == ["one", "default index"]
    assert client.docs("audit-vitalyst") == [{"attributes": {"log.type": "audit"}}]
    assert client.docs("nothing-here") == []


def test_gzip_bodies_are_accepted(standin):
    body = gzip.compress(_ndjson({"create": {"_index": "i"}}, {"n": 1}))
    status, _, _ = _request(standin, "POST", "/_bulk", body, {"Content-Encoding": "gzip"})
    assert status == 200
    assert StandinClient(standin.url).docs("i") == [{"n": 1}]


def test_malformed_bulk_is_a_400_and_records_nothing(standin):
    status, _, _ = _request(standin, "POST", "/_bulk", b'{"create": {"_index": "i"}}\n')
    assert status == 400
    status, _, _ = _request(standin, "POST", "/_bulk", b"not json\n")
    assert status == 400
    assert StandinClient(standin.url).indices() == {}


def test_injected_statuses_for_a_count_then_normal_service(standin):
    client = StandinClient(standin.url)
    client.fault(status=429, count=2)
    body = _ndjson({"create": {"_index": "i"}}, {"n": 1})
    assert [_request(standin, "POST", "/_bulk", body)[0] for _ in range(3)] == [429, 429, 200]
    assert client.docs("i") == [{"n": 1}]
    assert client.stats()["faults_served"] == 2


def test_injected_statuses_for_a_duration(standin):
    client = StandinClient(standin.url)
    client.fault(status=503, seconds=0.3)
    body = _ndjson({"create": {"_index": "i"}}, {"n": 1})
    assert _request(standin, "POST", "/_bulk", body)[0] == 503
    time.sleep(0.4)
    assert _request(standin, "POST", "/_bulk", body)[0] == 200


def test_document_level_rejections(standin):
    client = StandinClient(standin.url)
    client.fault(status=429, items=True, count=1)
    status, _, raw = _request(standin, "POST", "/_bulk", _ndjson({"create": {"_index": "i"}}, {"n": 1}))
    result = json.loads(raw)
    assert status == 200 and result["errors"] is True
    assert result["items"][0]["create"]["status"] == 429
    assert client.indices() == {}


def test_dropped_connections(standin):
    client = StandinClient(standin.url)
    client.fault(drop=True, count=1)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        _request(standin, "POST", "/_bulk", _ndjson({"create": {"_index": "i"}}, {"n": 1}))
    assert _request(standin, "POST", "/_bulk", _ndjson({"create": {"_index": "i"}}, {"n": 2}))[0] == 200
    assert client.docs("i") == [{"n": 2}]


def test_fault_can_be_cleared_and_bad_fault_is_refused(standin):
    client = StandinClient(standin.url)
    client.fault(status=503)
    client.clear_fault()
    assert _request(standin, "POST", "/_bulk", _ndjson({"create": {"_index": "i"}}, {"n": 1}))[0] == 200
    status, _, _ = _request(standin, "POST", "/_standin/fault", b'{"status": 200}')
    assert status == 400


def test_clear_forgets_documents(standin):
    client = StandinClient(standin.url)
    _request(standin, "POST", "/_bulk", _ndjson({"create": {"_index": "i"}}, {"n": 1}))
    client.clear()
    assert client.indices() == {} and client.all_docs() == {}


def test_memory_bound_counts_beyond_the_limit():
    with ElasticsearchStandin(max_docs=1) as server:
        _request(server, "POST", "/_bulk", _ndjson({"create": {"_index": "i"}}, {"n": 1},
                                                   {"create": {"_index": "i"}}, {"n": 2}))
        client = StandinClient(server.url)
        assert client.indices() == {"i": 2}
        assert client.docs("i") == [{"n": 1}]
        assert client.stats()["dropped_docs"] == 1


def test_parse_bulk_handles_every_operation():
    ops = parse_bulk(_ndjson({"index": {"_index": "a"}}, {"x": 1}, {"delete": {"_index": "a", "_id": "1"}},
                             {"update": {"_index": "b"}}, {"doc": {"y": 2}}), None)
    assert ops == [("index", "a", {"x": 1}), ("delete", "a", None), ("update", "b", {"doc": {"y": 2}})]
    with pytest.raises(ValueError):
        parse_bulk(_ndjson({"index": {}}, {"x": 1}), None)  # no index anywhere
