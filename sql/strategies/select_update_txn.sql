-- leasebench strategy: select_update_txn
-- summary: the seed's two statements (SELECT ... FOR UPDATE SKIP LOCKED, then UPDATE) inside one transaction
-- safe: true
-- batch: false
-- lease_txn: true
--
-- The row lock taken by the SELECT is held until the UPDATE commits, so no
-- other worker can take the row in between. Costs two extra round trips
-- (BEGIN, COMMIT) over update_returning.

-- @lease
SELECT id, run_at
  FROM due_work
 WHERE status = 'pending'
   AND run_at <= now()
   AND (locked_until IS NULL OR locked_until < now())
 ORDER BY priority DESC, run_at ASC
   FOR UPDATE SKIP LOCKED
 LIMIT 1;
UPDATE due_work
   SET status = 'running',
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now(),
       attempts = attempts + 1
 WHERE id = $1;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = $1;
