--[[
  write_latest.lua: last write wins by event time, then created; decided atomically per key.

  Each stored value starts "<eventTsMs>:<createdMs or empty>:" followed by the values (the
  value lengths, then the JSON array of feature values; values written before the lengths have
  the array alone), so the ordering is read from the prefix without looking at the values: both
  forms compare alike.

  KEYS[i]       online key of row i: <prefix>:<view>:<encoded join keys>
  ARGV[2i-1]    row i's encoded value: "<eventTsMs>:<createdMs or empty>:<value lengths><json values>"
  ARGV[2i]      row i's expiry, epoch ms (its event time + the view's ttl), or "0" for no ttl

  A row replaces the stored value only when (eventTs, created) is strictly greater, a missing
  created losing to any created; an equal pair keeps the stored value, so replays change
  nothing. Rows are applied in order, so several rows for one key in a call are fine.
  A winning row already past its expiry (by the server's clock) is not stored and deletes the
  older value it beats.

  Returns { won, expired }: rows stored, and winning rows not stored because already expired.
]]

local function order(value)
  local first = string.find(value, ':', 1, true)
  local second = string.find(value, ':', first + 1, true)
  local created = string.sub(value, first + 1, second - 1)
  return tonumber(string.sub(value, 1, first - 1)), created == '' and -math.huge or tonumber(created)
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local won, expired = 0, 0
for i, key in ipairs(KEYS) do
  local value = ARGV[2 * i - 1]
  local expireAt = tonumber(ARGV[2 * i])
  local ts, created = order(value)
  local current = redis.call('GET', key)
  local wins = true
  if current then
    local currentTs, currentCreated = order(current)
    wins = ts > currentTs or (ts == currentTs and created > currentCreated)
  end
  if wins then
    if expireAt > 0 and expireAt <= now then
      if current then redis.call('DEL', key) end
      expired = expired + 1
    elseif expireAt > 0 then
      redis.call('SET', key, value, 'PXAT', expireAt)
      won = won + 1
    else
      redis.call('SET', key, value)
      won = won + 1
    end
  end
end
return { won, expired }
