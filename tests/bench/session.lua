-- S5: whole CCAI sessions, one after another on each connection: look the
-- caller up by phone; on a miss create the contact; find the contact's
-- cases newest first; create a case; update it.  A session's steps depend
-- on the answers, so run this with as many threads as connections
-- (wrk -t N -c N): wrk's callbacks are per thread, not per connection.
--     wrk -s session.lua URL -- NUMBERS_FILE KEY
-- NUMBERS_FILE: known numbers, per line the number as CCAI sends it
-- (URL-encoded), a tab, and the same number in E.164 form.  One lookup in
-- ten is for a random unknown number instead.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local numbers, n
local step, seq, call, number, e164, contact, case = 1, 0

function init(args)
   numbers, n = init_common(args, "application/json")
end

local function json_request(method, path, body)
   return wrk.format(method, path, nil, body)
end

function request()
   if step == 1 then
      seq = seq + 1
      call = call_id("s", seq)
      if math.random() < 0.1 then
         -- An unknown caller: a number no contact has (yet).
         e164 = string.format("+1%d", 4000000000 + math.random(0, 999999999))
         number = "%2B" .. e164:sub(2)
      else
         number, e164 = numbers[math.random(n)]:match("^(%S+)\t(%S+)$")
      end
      return wrk.format("GET", "/api/v1/Contact?where%5B0%5D%5Battribute" ..
         "%5D=phoneNumber&where%5B0%5D%5Btype%5D=equals&where%5B0%5D" ..
         "%5Bvalue%5D=" .. number .. "&sortBy=createdAt&asc=false")
   elseif step == 2 then
      return json_request("POST", "/api/v1/Contact", string.format(
         '{"phoneNumber":"%s","firstName":"New Caller","lastName":"%s",' ..
         '"name":"New Caller %s"}', e164, call, call))
   elseif step == 3 then
      return wrk.format("GET", "/api/v1/Case?where%5B0%5D%5Battribute%5D=" ..
         "contactId&where%5B0%5D%5Btype%5D=equals&where%5B0%5D%5Bvalue" ..
         "%5D=" .. contact .. "&contactId=" .. contact ..
         "&sortBy=createdAt&asc=false")
   elseif step == 4 then
      return json_request("POST", "/api/v1/Case", string.format(
         '{"description":"Call Session: %s","name":"Inbound Call",' ..
         '"contactId":"%s","status":"New","ccallId":"%s",' ..
         '"cChannel":"voice"}', call, contact, call))
   else
      return json_request("PUT", "/api/v1/Case/" .. case,
         '{"status":"Assigned","description":"Caller asked about ' ..
         'an invoice; resolved on the call."}')
   end
end

function response(status, headers, body)
   if status ~= 200 then
      step = 1
      return
   end
   if step == 1 then
      contact = body:match('"id":"(%x+)"')
      step = contact and 3 or 2
   elseif step == 2 then
      contact = body:match('"id":"(%x+)"')
      step = contact and 3 or 1
   elseif step == 3 then
      step = 4
   elseif step == 4 then
      case = body:match('"id":"(%x+)"')
      step = case and 5 or 1
   else
      step = 1
   end
end
