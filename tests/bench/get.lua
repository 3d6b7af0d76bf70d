-- GET a path chosen at random from a file (one path per line):
-- S1 phone lookups, S2 reads by id, S3 a contact's cases, the baseline.
--     wrk -s get.lua URL -- PATHS_FILE KEY
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local paths, n

function init(args)
   paths, n = init_common(args)
end

function request()
   return wrk.format("GET", paths[math.random(n)])
end
