-- Rate limits in PostgreSQL without Redis: the counters of a request counted in one call
-- (src/platform/rate-limit-postgres.ts), and the calls of concurrent requests in one statement.
-- Rows keep the shape of 0003: key, points, and expire in epoch milliseconds (NULL: never); a row
-- whose expire has passed counts as absent.
--
-- The table leaves the write-ahead log. Every request writes its counters, and logging them (and
-- the disk writes that follow) cost more than the counting itself; counters are worth no more than
-- Redis keeps of them. A server crash empties the table, a standby does not have it (after a
-- failover the limits start from zero), a clean restart keeps it; its commits wait for no disk.
ALTER TABLE "rate_limits" SET UNLOGGED;
--> statement-breakpoint
--
-- A counter is one row (its key) or, for a counter every request of a tenant counts on, a few rows
-- that add up (key#0, key#1 …), so that no single row takes every request's update. A call counts
-- on one of them (its target). A row that starts while the others' window runs takes their
-- expiry, so the rows of a counter keep one window, as a single row would.
--
-- The arguments: p_rows, every row the calls concern (a counter's rows side by side); then, per
-- counter, the call it belongs to (1-based; a call's counters side by side, calls in order), its
-- target and its rows (positions in p_rows), the points to count, its window in ms should one
-- start (0: no expiry) and its ceiling (NULL: none). A call counts on all its counters, or on none
-- when one of them would reach its ceiling, counting the calls before it in the statement as
-- counted (so that a call refused only because of an earlier refused one is refused: the caller
-- then reads the counters and decides the answer). Returns each counted counter's total and expiry.
CREATE FUNCTION keyturn_limits_add(
  p_rows varchar[], p_calls integer[], p_targets integer[], p_first integer[], p_last integer[],
  p_points integer[], p_windows bigint[], p_ceilings integer[], p_now bigint
) RETURNS TABLE (counter integer, points integer, expire bigint)
LANGUAGE plpgsql
-- Planned once per connection: planned afresh for each call's arrays (what PostgreSQL chooses
-- here), the statement below would cost several times what running it does.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH counters AS MATERIALIZED (
    SELECT k, p_calls[k] AS call, p_targets[k] AS target, p_first[k] AS first, p_last[k] AS last,
      p_points[k] AS added, p_windows[k] AS win, p_ceilings[k] AS ceiling
    FROM generate_series(1, cardinality(p_targets)) AS k
  ),
  -- The targets locked in key order (statements sharing rows wait for each other instead of
  -- deadlocking), as they stand once locked; the other rows of a counter as read.
  locked AS MATERIALIZED (
    SELECT r.key, r.points, r.expire FROM rate_limits r
    WHERE r.key = ANY (ARRAY(SELECT p_rows[t] FROM unnest(p_targets) AS t))
    ORDER BY r.key
    FOR UPDATE
  ),
  cells AS MATERIALIZED (
    SELECT w.row, w.key, (l.key IS NOT NULL OR o.key IS NOT NULL) AS present,
      CASE WHEN coalesce(l.expire, o.expire) <= p_now THEN NULL ELSE coalesce(l.points, o.points) END AS live,
      coalesce(l.expire, o.expire) AS expire
    FROM unnest(p_rows) WITH ORDINALITY AS w(key, row)
    LEFT JOIN locked l ON l.key = w.key
    LEFT JOIN rate_limits o ON o.key = w.key AND NOT w.row = ANY (p_targets)
  ),
  held AS (
    SELECT c.k, coalesce(sum(x.live), 0) AS held,
      max(x.expire) FILTER (WHERE x.live IS NOT NULL AND x.row <> c.target) AS ends
    FROM counters c JOIN cells x ON x.row BETWEEN c.first AND c.last
    GROUP BY c.k
  ),
  earlier AS (
    SELECT c.k, coalesce(sum(e.added), 0) AS earlier
    FROM counters c LEFT JOIN counters e ON e.first = c.first AND e.call < c.call
    GROUP BY c.k
  ),
  totals AS MATERIALIZED (
    SELECT c.k, c.call, c.target, c.added, c.win, h.ends, h.held + e.earlier AS before,
      bool_and(c.ceiling IS NULL OR h.held + e.earlier < c.ceiling) OVER (PARTITION BY c.call) AS ok
    FROM counters c JOIN held h ON h.k = c.k JOIN earlier e ON e.k = c.k
  ),
  -- Each row counted on, once, with what it gets. As rate-limiter-flexible's upsert: a live row
  -- adds, an expired or new one starts a window.
  targets AS MATERIALIZED (
    SELECT x.row, x.key, x.present,
      CASE WHEN x.live IS NOT NULL THEN x.live + sum(t.added) ELSE sum(t.added) END AS points,
      CASE WHEN x.live IS NOT NULL THEN x.expire
        ELSE coalesce(max(t.ends), max(CASE WHEN t.win > 0 THEN p_now + t.win END)) END AS expire
    FROM totals t JOIN cells x ON x.row = t.target
    WHERE t.ok
    GROUP BY x.row, x.key, x.present, x.live, x.expire
  ),
  updated AS (
    UPDATE rate_limits AS u SET points = t.points, expire = t.expire
    FROM targets t
    WHERE t.present AND u.key = t.key
  ),
  -- A row someone else created since the read is added to, not overwritten.
  inserted AS (
    INSERT INTO rate_limits AS r (key, points, expire)
    SELECT t.key, t.points, t.expire FROM targets t WHERE NOT t.present
    ORDER BY t.key
    ON CONFLICT (key) DO UPDATE SET
      points = CASE WHEN r.expire <= p_now THEN excluded.points ELSE r.points + excluded.points END,
      expire = CASE WHEN r.expire <= p_now THEN excluded.expire ELSE r.expire END
  )
  SELECT t.k, (t.before + t.added)::integer, g.expire
  FROM totals t JOIN targets g ON g.row = t.target
  WHERE t.ok
  ORDER BY t.k;
END;
$$;
