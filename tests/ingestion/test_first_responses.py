"""build.first_responses on hand-written messages: a question's first response is the first later message of its
group (order sent_at, then message_id) by someone other than the asker; system notices and recall notices are not
speech. The rows are inserted out of message_id order, so an answer that depended on the physical row order (the
step sorts by integers and orders same-second rows by message_id separately) would come out different."""

import duckdb
import pytest

from assets.staging import build
from assets.staging.identity import ID_BITS_MACRO

# (message_id, group, sender, time on 2026-01-06, is_question, kind) in insertion order
ROWS = [
    ("m3", "g1", "A", "10:00:00", True, "text"),  # same second as m2, which sorts first: B does not answer it
    ("m2", "g1", "B", "10:00:00", False, "text"),
    ("x1", "g2", "D", "10:00:00", True, "text"),
    ("m5", "g1", "A", "10:01:00", False, "text"),  # the asker goes on talking
    ("x2", "g2", "E", "10:00:30", False, "text"),  # answers x1 after 30 s
    ("m6", "g1", None, "10:02:00", False, "system"),
    ("m7", "g1", "C", "10:03:00", False, "recall"),
    ("m8", "g1", "C", "10:04:00", False, "text"),  # answers m3
    ("m9", "g1", "C", "10:05:00", True, "text"),  # C asks and nobody follows: unanswered
    ("x4", "g2", "E", "11:00:00", True, "text"),  # x3 (same second, sorts first) is D's: not the answer
    ("x3", "g2", "D", "11:00:00", False, "text"),
    ("x5", "g2", "D", "11:10:00", False, "text"),  # answers x4
    ("y2", "g3", "G", "12:00:00", False, "text"),  # same second, sorts after y1: answers it in 0 s
    ("y1", "g3", "F", "12:00:00", True, "text"),
]
EXPECTED = {"m3": "10:04:00", "x1": "10:00:30", "x4": "11:10:00", "y1": "12:00:00"}


@pytest.mark.parametrize("chunk_rows", [10**9, 2])  # one bucket; a bucket per ~2 messages (each group whole)
def test_first_response_order_and_runs(monkeypatch, chunk_rows):
    monkeypatch.setattr(build, "FIRST_RESPONSE_CHUNK_ROWS", chunk_rows)
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(
        "CREATE TEMP TABLE src (message_id VARCHAR, group_id VARCHAR, sender_member_id VARCHAR, t VARCHAR, "
        "is_question BOOLEAN, kind VARCHAR)"
    )
    conn.executemany("INSERT INTO src VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    # the ids as identity.resolve and build.sql make them: 'g_' / 'm_' + 16 hex digits, and their numbers
    conn.execute(ID_BITS_MACRO)
    conn.execute(
        "CREATE TEMP TABLE msg2 AS SELECT message_id, group_id, sender_member_id, "
        "('2026-01-06 ' || t)::TIMESTAMPTZ AS sent_at, kind, is_question, id_bits(group_id) AS group_no, "
        "id_bits(sender_member_id) AS sender_no FROM (SELECT * EXCLUDE (group_id, sender_member_id), "
        "'g_' || substr(md5(group_id), 1, 16) AS group_id, 'm_' || substr(md5(sender_member_id), 1, 16) "
        "AS sender_member_id FROM src)"
    )
    build.first_responses(conn)
    got = dict(
        conn.execute(
            "SELECT m.message_id, strftime(f.nx, '%H:%M:%S') FROM first_resp f JOIN msg2 m ON m.rowid = f.rid"
        ).fetchall()
    )
    assert got == EXPECTED
    if chunk_rows == 2:  # the three groups really were split over several buckets
        n = len(ROWS)
        assert conn.execute(f"SELECT count(DISTINCT group_no % {-(-n // 2)}) FROM msg2").fetchone()[0] >= 2
