-- keyturn_limits_add (0013) with one step more: the keys it counts on are locked before their
-- rows are read, whether or not the rows exist yet. Same arguments, rows and answers.
--
-- A row another statement is creating cannot be locked: FOR UPDATE does not see it until that
-- statement commits. A call decided meanwhile as if the counter were new passed its ceiling by
-- whatever the other statement had counted (two instances counting on a fresh key: 6 admitted
-- against a ceiling of 5; or 7 of 7 taken, then one more). Transaction-scoped advisory locks, one
-- per key, in one order (of their ids), taken before anything is read: the second statement
-- waits for the first to commit, then reads what it counted. The lock ids are in a space of
-- their own (the two-integer form); two keys that share an id only wait for each other.
--
-- Instances of the previous build call the same function with the same arguments: a rolling
-- upgrade needs nothing more.
CREATE OR REPLACE FUNCTION keyturn_limits_add(
  p_rows varchar[], p_calls integer[], p_targets integer[], p_first integer[], p_last integer[],
  p_points integer[], p_windows bigint[], p_ceilings integer[], p_now bigint
) RETURNS TABLE (counter integer, points integer, expire bigint)
LANGUAGE plpgsql
-- Each statement planned once per connection: planned afresh for each call's arrays (what
-- PostgreSQL would choose here), they cost more to plan than to run. And planned to go through
-- the key's index whatever the table held when they were planned: a plan made while the table was
-- new and empty (a fresh database, a server restarted after a crash) would otherwise read the
-- whole table on every call, however large it grew, until an ANALYZE (autovacuum) replans it.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  n integer := cardinality(p_rows);
  m integer := coalesce(cardinality(p_targets), 0);
  -- Per row (positions in p_rows): whether it is a target, whether it exists, its live points
  -- (NULL: absent or expired), its expiry as stored, whether this call writes it.
  is_target boolean[] := array_fill(false, ARRAY[n]);
  present boolean[] := array_fill(false, ARRAY[n]);
  live integer[] := array_fill(NULL::integer, ARRAY[n]);
  ends bigint[] := array_fill(NULL::bigint, ARRAY[n]);
  dirty boolean[] := array_fill(false, ARRAY[n]);
  -- Per counter: what its rows held before its call.
  held bigint[] := array_fill(0::bigint, ARRAY[greatest(m, 1)]);
  targets varchar[] := '{}';
  nt integer := 0;
  nw integer := 0;
  np integer := 0;
  nout integer := 0;
  r record;
  k integer;
  j integer;
  q integer;
  i integer;
  t integer;
  ok boolean;
  lock_id integer;
  w_keys varchar[] := '{}';
  w_points integer[] := '{}';
  w_expires bigint[] := '{}';
  w_present varchar[] := '{}';
  out_counters integer[] := '{}';
  out_points integer[] := '{}';
  out_expires bigint[] := '{}';
BEGIN
  IF m = 0 THEN RETURN; END IF;
  FOR k IN 1 .. m LOOP
    t := p_targets[k];
    IF NOT is_target[t] THEN
      is_target[t] := true;
      nt := nt + 1;
      targets[nt] := p_rows[t];
    END IF;
  END LOOP;

  -- 27508 ('kt'): the space of these locks, apart from any other advisory lock.
  FOR lock_id IN SELECT DISTINCT hashtext(x) FROM unnest(targets) AS x ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(27508, lock_id);
  END LOOP;

  FOR r IN
    SELECT w.i, l.points AS pts, l.expire AS exp
    FROM rate_limits l JOIN unnest(p_rows) WITH ORDINALITY AS w(key, i) ON w.key = l.key
    WHERE l.key = ANY (targets)
    ORDER BY l.key
    FOR UPDATE OF l
  LOOP
    present[r.i] := true;
    ends[r.i] := r.exp;
    IF r.exp IS NULL OR r.exp > p_now THEN live[r.i] := r.pts; END IF;
  END LOOP;

  IF nt < n THEN
    FOR r IN
      SELECT w.i, l.points AS pts, l.expire AS exp
      FROM rate_limits l JOIN unnest(p_rows) WITH ORDINALITY AS w(key, i) ON w.key = l.key
      WHERE l.key = ANY (p_rows) AND NOT l.key = ANY (targets)
    LOOP
      present[r.i] := true;
      ends[r.i] := r.exp;
      IF r.exp IS NULL OR r.exp > p_now THEN live[r.i] := r.pts; END IF;
    END LOOP;
  END IF;

  k := 1;
  WHILE k <= m LOOP
    -- The call's counters: k .. j - 1, each checked against what its rows hold now.
    ok := true;
    j := k;
    WHILE j <= m AND p_calls[j] = p_calls[k] LOOP
      held[j] := 0;
      FOR i IN p_first[j] .. p_last[j] LOOP
        held[j] := held[j] + coalesce(live[i], 0);
      END LOOP;
      IF p_ceilings[j] IS NOT NULL AND held[j] >= p_ceilings[j] THEN ok := false; END IF;
      j := j + 1;
    END LOOP;
    IF ok THEN
      FOR q IN k .. j - 1 LOOP
        t := p_targets[q];
        IF live[t] IS NOT NULL THEN
          live[t] := live[t] + p_points[q];
        ELSE
          -- A new window: the one the counter's other live rows keep, or its own.
          live[t] := p_points[q];
          ends[t] := NULL;
          FOR i IN p_first[q] .. p_last[q] LOOP
            IF i <> t AND live[i] IS NOT NULL AND (ends[t] IS NULL OR ends[i] > ends[t]) THEN ends[t] := ends[i]; END IF;
          END LOOP;
          IF ends[t] IS NULL AND p_windows[q] > 0 THEN ends[t] := p_now + p_windows[q]; END IF;
        END IF;
        dirty[t] := true;
        nout := nout + 1;
        out_counters[nout] := q;
        out_points[nout] := held[q] + p_points[q];
        out_expires[nout] := ends[t];
      END LOOP;
    END IF;
    k := j;
  END LOOP;

  FOR i IN 1 .. n LOOP
    IF dirty[i] THEN
      nw := nw + 1;
      w_keys[nw] := p_rows[i];
      w_points[nw] := live[i];
      w_expires[nw] := ends[i];
      IF present[i] THEN np := np + 1; w_present[np] := p_rows[i]; END IF;
    END IF;
  END LOOP;
  IF nw > 0 THEN
    INSERT INTO rate_limits AS u (key, points, expire)
    SELECT x.key, x.points, x.expire FROM unnest(w_keys, w_points, w_expires) AS x(key, points, expire)
    ORDER BY x.key
    ON CONFLICT (key) DO UPDATE SET
      points = CASE WHEN u.key = ANY (w_present) OR u.expire <= p_now THEN excluded.points ELSE u.points + excluded.points END,
      expire = CASE WHEN u.key = ANY (w_present) OR u.expire <= p_now THEN excluded.expire ELSE u.expire END;
  END IF;

  RETURN QUERY SELECT x.c, x.p, x.e FROM unnest(out_counters, out_points, out_expires) AS x(c, p, e);
END;
$$;
