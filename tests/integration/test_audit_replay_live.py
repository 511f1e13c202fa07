"""The audit trail across a collector outage, for real: the demo under the launcher exports to our
collector, which writes audit records to the Elasticsearch bulk-API stand-in (named a stand-in:
Elasticsearch cannot run here). The collector is stopped, audit records go to the fallback file;
it is started again, and every record reaches the audit index exactly once."""

from __future__ import annotations

import collections
import json

import pytest

from tests.integration.conftest import RunningStack, start_stack
from tests.integration.e2e_support import eventually, running_demo
from tests.integration.test_reliability import _create_nodes
from vitalyst_otel.audit_fallback import FallbackFile

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def astack(stack_binaries, tmp_path_factory) -> RunningStack:
    """A stack of its own: the test stops and starts its collector."""
    running = start_stack(stack_binaries, tmp_path_factory.mktemp("audit-replay-stack"))
    try:
        yield running
    finally:
        running.stack.down()


def test_audit_records_written_during_an_outage_reach_the_index_once(astack, tmp_path):
    fallback = FallbackFile(str(tmp_path / "audit" / "fallback.jsonl"))
    with running_demo(astack.otlp_http, tmp_path / "demo", VITALYST_AUDIT_FALLBACK_FILE=fallback.path) as demo:
        astack.stack.stop("collector")
        try:
            ids = _create_nodes(demo, 20, 2.0)  # two audit records each: api_key.use, node.create
            eventually(lambda: len(fallback.unsent()) >= 40 or None, 60, "40 audit records in the fallback file")
        finally:
            astack.stack.start("collector")
        outage = [json.loads(line) for line in fallback.unsent()]

        def arrived():
            audit = collections.Counter(d.get("trace_id") for d in astack.es.docs("audit-vitalyst"))
            return audit if all(audit[t] >= 2 for t in ids) else None

        eventually(arrived, 90, "every audit record of the outage in the audit index")
    audit = collections.Counter(d.get("trace_id") for d in astack.es.docs("audit-vitalyst"))
    assert {t: audit[t] for t in ids} == {t: 2 for t in ids}  # exactly once each
    assert {r["trace_id"] for r in outage} >= set(ids)
    assert not fallback.pending()
