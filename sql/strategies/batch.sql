-- leasebench strategy: batch
-- summary: one statement leases up to k rows (CTE ... LIMIT {batch} FOR UPDATE SKIP LOCKED, then UPDATE ... FROM); one statement completes them (id = ANY($1))
-- safe: true
-- batch: true
-- consume: false
-- lease_txn: false
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- The batched form of update_returning: the same predicate, order and
-- default index (the index variant, pending_partial unless told), but the
-- CTE takes up to {batch} rows (`--batch`, default 10) in one index walk and
-- one round trip, and the worker completes all of them with one UPDATE.
-- Every row in the CTE is row-locked by this statement until it commits, so
-- no other worker can take any of them (SKIP LOCKED passes over them).
-- Expiry: the default rescue (running rows whose locked_until has passed
-- go back to pending).

-- @lease
WITH picked AS (
    SELECT id
      FROM due_work
     WHERE status = 'pending'
       AND run_at <= now()
       AND (locked_until IS NULL OR locked_until < now())
     ORDER BY priority DESC, run_at ASC
     LIMIT {batch}
       FOR UPDATE SKIP LOCKED)
UPDATE due_work AS d
   SET status = 'running',
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now(),
       attempts = d.attempts + 1
  FROM picked
 WHERE d.id = picked.id
RETURNING d.id, d.run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = ANY($1);
