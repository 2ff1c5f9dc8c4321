-- leasebench strategy: pgmq_read
-- summary: pgmq read(): CTE WHERE vt <= clock_timestamp() ORDER BY msg_id LIMIT k FOR UPDATE SKIP LOCKED, UPDATE sets vt = clock_timestamp() + timeout; delete to complete
-- safe: true
-- batch: true
-- consume: false
-- lease_txn: false
-- completes_by_delete: true
-- lease_ends_with_connection: false
--
-- Models pgmq/pgmq (pgmq-extension/sql/pgmq.sql: read, delete). A message
-- is visible when its visibility timeout vt has passed. read() takes up to
-- qty visible messages in msg_id order with FOR UPDATE SKIP LOCKED and
-- pushes their vt into the future by the visibility timeout, bumping
-- read_ct; the consumer deletes (or archives) a message when done. read
-- takes a qty, so this is a batch strategy (`--batch`, default 10).
--
-- On due_work: locked_until is vt and attempts is read_ct. pgmq's send()
-- sets vt to the enqueue time (or a later delay); a BEFORE INSERT trigger
-- created in @setup does the same here (locked_until = run_at), so the
-- seeding and the producer need not know. The index is pgmq's own, on
-- (vt). status is never touched: a message is leased while its vt is in
-- the future, and done when deleted.
--
-- The plan to look at: clock_timestamp() is volatile, so `vt <=
-- clock_timestamp()` cannot be an index condition, and the vt index is no
-- use to the query; Postgres walks the primary key in msg_id order and
-- filters vt row by row (passing over every in-flight message at the
-- head of the queue), or scans and sorts.
--
-- Expiry needs no rescuer: a message whose vt passes is visible again to
-- the next read (at-least-once). That re-delivery happens only after the
-- visibility timeout, which is longer than the lease the audit allows
-- (vt is set after the statement was sent), so the audit counts it as a
-- re-lease, never a double lease: exactly-once while leases are live. A
-- consumer that overruns its timeout and then deletes the message deletes
-- it under the next reader (pgmq's delete does not check who read it).
--
-- Differs from pgmq: no queue table per queue, no priority (pgmq has none:
-- msg_id order), no conditional (jsonb filter) clause.

-- @setup
CREATE INDEX due_work_pgmq_read_vt ON due_work (locked_until);
CREATE OR REPLACE FUNCTION due_work_pgmq_read_set_vt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.locked_until := coalesce(NEW.locked_until, NEW.run_at); RETURN NEW; END $$;
CREATE TRIGGER due_work_pgmq_read_set_vt BEFORE INSERT ON due_work FOR EACH ROW EXECUTE FUNCTION due_work_pgmq_read_set_vt();

-- @lease
WITH cte AS (
    SELECT id
      FROM due_work
     WHERE locked_until <= clock_timestamp()
     ORDER BY id ASC
     LIMIT {batch}
       FOR UPDATE SKIP LOCKED)
UPDATE due_work AS m
   SET locked_until = clock_timestamp() + interval '{lease_ms} milliseconds',
       attempts = m.attempts + 1
  FROM cte
 WHERE m.id = cte.id
RETURNING m.id, m.run_at;

-- @complete
DELETE FROM due_work WHERE id = ANY($1);

-- @rescue
-- Nothing to rescue: a message comes back by itself when its vt passes.
-- (An empty section: no rescuer, so the default one does not scan for
-- 'running' rows this strategy never makes.)
