-- S4: create a Case as CCAI does, for a random existing contact, with a
-- call id never used before (the unique ccallId is checked on each).
--     wrk -s create_case.lua URL -- CONTACT_IDS_FILE KEY
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local ids, n, seq = nil, 0, 0

function init(args)
   ids, n = init_common(args, "application/json")
end

function request()
   seq = seq + 1
   local call = call_id("b", seq)
   local body = string.format(
      '{"description":"Call Session: %s","name":"Inbound Call from ' ..
      '+12005550100","contactId":"%s","status":"New","cchatId":"",' ..
      '"ccallId":"%s","cChannel":"voice","Type":"Voice inbound"}',
      call, ids[math.random(n)], call)
   return wrk.format("POST", "/api/v1/Case", nil, body)
end
