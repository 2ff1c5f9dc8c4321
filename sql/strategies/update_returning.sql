-- leasebench strategy: update_returning
-- summary: one UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING (the default)
-- safe: true
-- batch: false
--
-- Placeholders, substituted with validated integers before the statement is
-- prepared: {lease_ms} (lease length), {batch} (rows per lease).
-- The lease must return the leased rows' `id` (bigint) and `run_at` (timestamptz).
-- complete gets $1 = the leased id (bigint; bigint[] for batch strategies).

-- @lease
UPDATE due_work
   SET status = 'running',
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now(),
       attempts = attempts + 1
 WHERE id = (
        SELECT id
          FROM due_work
         WHERE status = 'pending'
           AND run_at <= now()
           AND (locked_until IS NULL OR locked_until < now())
         ORDER BY priority DESC, run_at ASC
           FOR UPDATE SKIP LOCKED
         LIMIT 1)
RETURNING id, run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = $1;
