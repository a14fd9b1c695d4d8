--[[
  write_cache.lua: stores a read's merged window values (tiles.ts, "the window cache") only if
  the hash is still at the version they were computed from, and only if it still exists (a
  plain HSET would recreate an expired hash without its expiry).

  KEYS[1]   the entity's hash
  ARGV[1]   the version the values were computed at
  ARGV[2..] field, value, field, value, …

  Returns 1 when stored, 0 when the hash changed or is gone (the entries would be stale).
]]
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
