--[[
  write_tiles.lua: compare and set of stream feature views' tiles, one hash per entity
  (layout in tiles.ts). The states are computed by the caller from the fields it read; this
  script writes them only if no other writer changed the hash since (its version `v` is still
  the one read), so two writers of one entity never lose each other's events.

  ARGV[1]            number of tile groups G
  ARGV[2 .. 2G+1]    pairs: group id (`<fn>:<r>:<column>`), cutoff: a tile of that group whose
                     start is at or below the cutoff is in no window any more
  then per KEYS[i]:  expected version ("0" for a new hash), cleanup ("1": delete dead tiles; the
                     tiles of a group not given are left alone, as a process running a newer
                     version of the view may be writing them),
                     expiry (epoch ms, PEXPIREAT), N, then N field/value pairs (version included)

  Returns one integer per key: 1 written, 0 version changed (the caller reads again and retries).
]]

-- unpack() takes at most a few thousand values at once.
local CHUNK = 1000

local function hset(key, pairs, from, to)
  local i = from
  while i <= to do
    local last = math.min(i + CHUNK - 1, to)
    redis.call('HSET', key, unpack(pairs, i, last))
    i = last + 1
  end
end

local groups = tonumber(ARGV[1])
local cutoff = {}
local a = 2
for _ = 1, groups do
  cutoff[ARGV[a]] = tonumber(ARGV[a + 1])
  a = a + 2
end

local results = {}
for i, key in ipairs(KEYS) do
  local expected = ARGV[a]
  local cleanup = ARGV[a + 1] == '1'
  local expireAt = ARGV[a + 2]
  local n = tonumber(ARGV[a + 3])
  a = a + 4
  local current = redis.call('HGET', key, 'v') or '0'
  if current ~= expected then
    results[i] = 0
  else
    -- Field/value pairs are even in number, so a chunk of CHUNK (even) values never splits a pair.
    hset(key, ARGV, a, a + 2 * n - 1)
    if cleanup then
      local dead = {}
      for _, field in ipairs(redis.call('HKEYS', key)) do
        local start, group = string.match(field, '^t:(%-?%d+):(.+)$')
        if start then
          local c = cutoff[group]
          if c ~= nil and tonumber(start) <= c then dead[#dead + 1] = field end
        end
      end
      local j = 1
      while j <= #dead do
        local last = math.min(j + CHUNK - 1, #dead)
        redis.call('HDEL', key, unpack(dead, j, last))
        j = last + 1
      end
    end
    -- In the past (no tile live): Redis deletes the hash, guards included; every event it could
    -- hold would be too late for a window anyway.
    redis.call('PEXPIREAT', key, expireAt)
    results[i] = 1
  end
  a = a + 2 * n
end
return results
