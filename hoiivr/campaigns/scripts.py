"""The campaign's shared state changes, each one atomic: Lua scripts run by Redis.

Every worker on every host, and the app's webhooks, change a number's row only through
these, so that no two of them can decide the same thing twice. Times are Redis's own
clock (``TIME``), the one clock all hosts share, in milliseconds.

A row (``c:<name>:row:<id>``, a hash) goes ``pending`` -> ``dialing`` (a slot is held and
the request is being sent) -> ``live`` (the carrier took it) -> ``answered`` (final, the
call still in progress) -> ``done`` (it ended, or its lease ran out), or ``ended`` (not
answered) -> ``pending`` again with ``attempt`` + 1, or ``done`` (``final`` =
``exhausted``). ``final`` is also ``dnc`` for a number on the do-not-call list. A row holds
its slot (and counts in the campaign's ``live``) from ``dialing`` until its call ends.
The account's *pool* holds the slots: ``live`` (a sorted set of calls by the end of their
lease), ``numbers`` (number -> its call), ``pace`` (when the next call may start).
"""
from __future__ import annotations

#: Milliseconds now, by Redis's clock.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

#: A slot given back, once: the campaign's live count goes down and a waiter wakes.
_FREE_SLOT = """
local function free_slot(live, numbers, counts, freed, member, number)
  if redis.call('ZREM', live, member) == 1 then
    redis.call('HINCRBY', counts, 'live', -1)
    redis.call('RPUSH', freed, '1')
    redis.call('LTRIM', freed, -64, -1)
    redis.call('PEXPIRE', freed, 60000)
  end
  if redis.call('HGET', numbers, number) == member then
    redis.call('HDEL', numbers, number)
  end
end
"""

#: KEYS row, holder; ARGV token, attempt, holder_ttl_ms.
#: -> final <why> | unknown | forward <attempt> <not_before> | stale | held | run <phase>
CLAIM = """
local final = redis.call('HGET', KEYS[1], 'final')
local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt'))
local phase = redis.call('HGET', KEYS[1], 'phase')
local holder = redis.call('GET', KEYS[2])
if final and final ~= '' then
  -- An answered call still in progress holds its slot until the app hears it end, or its
  -- lease runs out: the job that holds the row waits for that. Its own message, delivered
  -- again (its worker died, or the job raised), takes the wait over; any other stops here.
  if phase == 'answered' and attempt == tonumber(ARGV[2])
      and (not holder or holder == ARGV[1]) then
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
    return {'run', phase}
  end
  return {'final', final}
end
if not attempt then return {'unknown'} end
local free = not holder
if attempt ~= tonumber(ARGV[2]) then
  if attempt > tonumber(ARGV[2]) and phase == 'pending' and free then
    return {'forward', tostring(attempt), redis.call('HGET', KEYS[1], 'not_before') or '0'}
  end
  return {'stale'}
end
if holder and holder ~= ARGV[1] then return {'held'} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return {'run', phase}
"""

#: KEYS holder; ARGV token, ttl_ms -> 1 if still held by token (and prolonged), else 0.
REFRESH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

#: KEYS holder; ARGV token.
LET_GO = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

#: KEYS row, holder, counts, live, numbers, pace, dnc
#: ARGV token, attempt, member, number, concurrency (0: none), interval_ms (0: none),
#:      lease_ms, ttl_ms
#: -> go <deadline> | full <ms> | pace <ms> | number_busy | dnc | moved | lost_hold
START = _NOW + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'lost_hold'} end
if redis.call('HGET', KEYS[1], 'phase') ~= 'pending'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2] then return {'moved'} end
if redis.call('SISMEMBER', KEYS[7], ARGV[4]) == 1 then
  redis.call('HSET', KEYS[1], 'final', 'dnc', 'phase', 'done')
  redis.call('HINCRBY', KEYS[3], 'dnc', 1)
  return {'dnc'}
end
-- A call whose lease ran out no longer counts: its worker takes it back.
local concurrency = tonumber(ARGV[5])
if concurrency > 0 and redis.call('ZCOUNT', KEYS[4], now, '+inf') >= concurrency then
  local first = redis.call('ZRANGEBYSCORE', KEYS[4], now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  return {'full', tostring(tonumber(first[2]) - now)}
end
local other = redis.call('HGET', KEYS[5], ARGV[4])
if other and other ~= ARGV[3] then
  local until_ms = redis.call('ZSCORE', KEYS[4], other)
  if until_ms and tonumber(until_ms) > now then return {'number_busy'} end
end
local interval = tonumber(ARGV[6])
if interval > 0 then
  local next_ms = tonumber(redis.call('GET', KEYS[6]) or '0')
  if next_ms > now then return {'pace', tostring(next_ms - now)} end
  redis.call('SET', KEYS[6], tostring(now + interval), 'PX', interval + 1000)
end
local deadline = now + tonumber(ARGV[7])
redis.call('ZADD', KEYS[4], deadline, ARGV[3])
redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[7]) + 60000)
redis.call('HSET', KEYS[5], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[7]) + 60000)
redis.call('HSET', KEYS[1], 'phase', 'dialing', 'deadline', tostring(deadline),
           'member', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'dials', 1)
redis.call('HINCRBY', KEYS[3], 'dials', 1)
redis.call('HINCRBY', KEYS[3], 'live', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('PEXPIRE', KEYS[3], ARGV[8])
return {'go', tostring(deadline)}
"""

#: KEYS row; ARGV attempt, session -> the row's phase now (or moved).
DIALED = """
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 'moved' end
redis.call('HSET', KEYS[1], 'session', ARGV[2])
if redis.call('HGET', KEYS[1], 'phase') == 'dialing' then
  redis.call('HSET', KEYS[1], 'phase', 'live')
end
return redis.call('HGET', KEYS[1], 'phase')
"""

#: The app heard of a campaign call: answered, or ended (with its dial status).
#: KEYS row, counts, live, numbers, events, freed
#: ARGV attempt, member, number, event (answered|ended), status, ttl_ms -> ok | stale
OUTCOME = _FREE_SLOT + """
if ARGV[4] == 'ended' then
  free_slot(KEYS[3], KEYS[4], KEYS[2], KEYS[6], ARGV[2], ARGV[3])
end
local phase = redis.call('HGET', KEYS[1], 'phase')
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1]
    or (phase ~= 'dialing' and phase ~= 'live' and phase ~= 'answered') then
  return 'stale'
end
if ARGV[4] == 'answered' or ARGV[5] == 'answered' or phase == 'answered' then
  if redis.call('HGET', KEYS[1], 'final') ~= 'answered' then
    redis.call('HSET', KEYS[1], 'final', 'answered', 'outcome', 'answered')
    redis.call('HINCRBY', KEYS[2], 'answered', 1)
  end
  if ARGV[4] == 'ended' then
    redis.call('HSET', KEYS[1], 'phase', 'done')
  else
    redis.call('HSET', KEYS[1], 'phase', 'answered')
  end
else
  redis.call('HSET', KEYS[1], 'phase', 'ended', 'outcome', ARGV[5])
  redis.call('HINCRBY', KEYS[2], ARGV[5], 1)
end
redis.call('RPUSH', KEYS[5], ARGV[4])
redis.call('PEXPIRE', KEYS[5], ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 'ok'
"""

#: The request for the call did not go out, or was refused.
#: KEYS row, holder, counts, live, numbers, freed
#: ARGV token, attempt, member, number, then (pending: again, uncounted | an outcome)
RELEASE = _FREE_SLOT + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'lost_hold' end
free_slot(KEYS[4], KEYS[5], KEYS[3], KEYS[6], ARGV[3], ARGV[4])
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2]
    or redis.call('HGET', KEYS[1], 'phase') ~= 'dialing' then return 'moved' end
if ARGV[5] == 'pending' then
  -- Not placed: no call to count, only a refusal.
  redis.call('HSET', KEYS[1], 'phase', 'pending')
  redis.call('HINCRBY', KEYS[1], 'dials', -1)
  redis.call('HINCRBY', KEYS[3], 'dials', -1)
  redis.call('HINCRBY', KEYS[3], 'refused', 1)
else
  redis.call('HSET', KEYS[1], 'phase', 'ended', 'outcome', ARGV[5])
  redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
end
return 'ok'
"""

#: Nothing was heard of the call within its lease: take its slot back, count it lost; or,
#: for an answered call whose end was never heard, only take its slot back (it stays
#: answered, and its end, if it comes late, is stale and frees nothing twice).
#: KEYS row, holder, counts, live, numbers, freed; ARGV token, attempt, member, number
#: -> ended | done | early | lost_hold | <phase>
EXPIRE = _NOW + _FREE_SLOT + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'lost_hold' end
local phase = redis.call('HGET', KEYS[1], 'phase')
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2]
    or (phase ~= 'dialing' and phase ~= 'live' and phase ~= 'answered') then return phase end
if tonumber(redis.call('HGET', KEYS[1], 'deadline') or '0') > now then return 'early' end
free_slot(KEYS[4], KEYS[5], KEYS[3], KEYS[6], ARGV[3], ARGV[4])
if phase == 'answered' then
  redis.call('HSET', KEYS[1], 'phase', 'done')
  return 'done'
end
redis.call('HSET', KEYS[1], 'phase', 'ended', 'outcome', 'lost')
redis.call('HINCRBY', KEYS[3], 'lost', 1)
return 'ended'
"""

#: After a call that was not answered: try again later, or give up.
#: KEYS row, holder, counts; ARGV token, attempt, retry|exhausted, delay_ms, ttl_ms
#: -> ok <not_before> | moved | lost_hold
ADVANCE = _NOW + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'lost_hold'} end
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2]
    or redis.call('HGET', KEYS[1], 'phase') ~= 'ended' then return {'moved'} end
local not_before = now + tonumber(ARGV[4])
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[1], 'attempt', tostring(tonumber(ARGV[2]) + 1), 'phase', 'pending',
             'not_before', tostring(not_before))
  redis.call('HINCRBY', KEYS[3], 'retries', 1)
else
  redis.call('HSET', KEYS[1], 'phase', 'done', 'final', 'exhausted')
  redis.call('HINCRBY', KEYS[3], 'exhausted', 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'ok', tostring(not_before)}
"""
