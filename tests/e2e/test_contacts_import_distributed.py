"""A CSV import and export through the gateway of the distributed suite: the file goes up in chunks
under the body limit (64 KiB here), the contacts service's worker runs the job, the audience in
marketing receives the imported contacts, and the export streams back as text/csv."""

from __future__ import annotations

import base64
import csv
import io

import pytest

from tests.e2e.support import Api, wait_until

pytestmark = pytest.mark.e2e

MAPPING = {"Name": "givenName", "Mail": "email", "Segment": "customFields.segment", "Labels": "tags"}
ROWS = 2000


def upload(api: Api, job_id: str, data: bytes, chunk: int = 30_000) -> int:
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for sequence, piece in enumerate(pieces):
        body = {"sequence": sequence, "data": base64.b64encode(piece).decode()}
        response = api.post(f"/v1/importJobs/{job_id}:uploadChunk", json=body)
        assert response.status_code == 200, response.text
        if sequence == 0:  # a lost answer is re-sent: harmless
            assert api.post(f"/v1/importJobs/{job_id}:uploadChunk", json=body).json()["chunksReceived"] == 1
    return len(pieces)


def test_a_csv_goes_in_through_chunks_and_comes_out_as_a_stream(acme_api):
    api = acme_api
    bad = api.post("/v1/contacts:import", json={"columnMapping": {"Name": "nickname"}})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"columnMapping.Name", "columnMapping"}

    job = api.post("/v1/contacts:import", json={"columnMapping": MAPPING, "allowPartial": True})
    assert job.status_code == 200, job.text
    job_id = job.json()["id"]
    assert job.json()["state"] == "UPLOADING"
    lines = ["Name,Mail,Segment,Labels"]
    lines += [f"Imp{i},imp{i}@import.example,{'gold' if i % 3 == 0 else 'std'},csv;e2e" for i in range(ROWS)]
    lines.append("Broken,not-an-email,std,")
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 65536  # more than one request body could carry
    count = upload(api, job_id, data)
    started = api.post(f"/v1/importJobs/{job_id}:start", json={"chunkCount": count})
    assert started.status_code == 200 and started.json()["state"] == "QUEUED", started.text

    def finished() -> dict | None:
        state = api.get(f"/v1/importJobs/{job_id}").json()
        return state if state["state"] in ("SUCCEEDED", "FAILED") else None

    done = wait_until(finished, 90, "the import job")
    assert done["state"] == "SUCCEEDED", done
    assert (done["rowsTotal"], done["rowsCreated"], done["rowsFailed"], done["progressPercent"]) == (
        str(ROWS + 1),
        str(ROWS),
        "1",
        100,
    )
    errors = api.get(f"/v1/importJobs/{job_id}/errors").json()["errors"]
    assert [(e["rowNumber"], e["field"]) for e in errors] == [(str(ROWS + 1), "email")]

    # The audience projection receives the batches (one ContactsImported event per batch).
    some = api.get("/v1/contacts", params={"filter": 'email = "imp7@import.example"'}).json()["contacts"][0]
    assert some["customFields"] == {"segment": "std"} and some["tags"] == ["csv", "e2e"]
    wait_until(lambda: api.get(f"/v1/audienceMembers/{some['id']}").status_code == 200, 30, "the projection")

    exported = api.get("/v1/contacts:export", params={"filter": "tags:e2e", "orderBy": "email"}, stream=True)
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "Content-Length" not in exported.headers  # streamed, not built in memory
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert len(rows) == ROWS and rows[0]["email"] < rows[-1]["email"]
    assert sum(1 for r in rows if r["customFields"] == '{"segment": "gold"}') == len(range(0, ROWS, 3))
    refused = api.get("/v1/contacts:export", params={"filter": "nickname = 1"})
    assert refused.status_code == 400 and refused.json()["error"]["status"] == "INVALID_ARGUMENT"
