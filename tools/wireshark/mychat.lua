-- mychat.lua: a Wireshark/tshark dissector for MyChat (proto/mychat.proto,
-- proto/PROTOCOL.md). Load it with
--   tshark -X lua_script:tools/wireshark/mychat.lua -r capture.pcap -V
-- or copy it into Wireshark's personal plugins folder.
--
-- It claims UDP port 8000 and, heuristically, any UDP datagram that starts
-- with the prefix "MYC" 0x01. The Envelope is read by a small protobuf
-- wire-format decoder driven by the SCHEMA table below (a transcription of
-- mychat.proto: keep the two in step). Every field is shown by name and is
-- filterable as mychat.<message>.<field> (mychat.envelope.session_id,
-- mychat.send.text, ...). Unknown fields are shown as such; malformed data
-- (truncated varints, lengths past the end, wrong wire types) is flagged
-- with expert info, and any Lua error in the decoder is caught and flagged,
-- so a hostile datagram never breaks the dissection.

local mychat = Proto("mychat", "MyChat")

-- Field types: uint32, uint64, bool, fixed64, string, bytes, enum:<Name>,
-- or the name of a message in SCHEMA. rep = repeated.
local ENUMS = {
  ErrorCode = {
    [0] = "ERROR_NONE", "MALFORMED", "UNKNOWN_SESSION", "AUTH_FAILED",
    "NAME_TAKEN", "BAD_NAME", "BAD_PASSWORD", "RATE_LIMITED", "NO_SUCH_USER",
    "NO_SUCH_GROUP", "GROUP_EXISTS", "NOT_MEMBER", "ALREADY_MEMBER",
    "TOO_MANY_GROUPS", "TEXT_TOO_LONG", "BAD_UTF8", "SERVER_BUSY", "INTERNAL",
    "SHUTTING_DOWN", "SESSION_REPLACED", "BAD_REQUEST",
  },
  ListKind = { [0] = "LIST_GROUPS", "LIST_USERS", "LIST_MY_GROUPS" },
}

local SCHEMA = {
  AckRange = { [1] = { "first", "uint32" }, [2] = { "last", "uint32" } },
  Ack = {
    [1] = { "cumulative", "uint32" },
    [2] = { "ranges", "AckRange", rep = true },
    [3] = { "delay_us", "uint32" },
  },
  Handshake = {
    [1] = { "name", "string" }, [2] = { "password", "string" },
    [3] = { "client_nonce", "fixed64" }, [4] = { "presence", "bool" },
    [15] = { "padding", "bytes" },
  },
  Logout = {},
  ListRequest = { [1] = { "kind", "enum:ListKind" }, [2] = { "after", "string" } },
  CreateGroup = { [1] = { "name", "string" } },
  JoinGroup = { [1] = { "name", "string" } },
  LeaveGroup = { [1] = { "name", "string" } },
  SendMessage = {
    [1] = { "client_msg_id", "fixed64" }, [2] = { "user", "string" },
    [3] = { "group", "string" }, [4] = { "text", "string" },
  },
  Ping = { [1] = { "time_us", "uint64" } },
  Welcome = {
    [1] = { "session_id", "fixed64" }, [2] = { "token", "bytes" },
    [3] = { "client_nonce", "fixed64" }, [4] = { "name", "string" },
    [5] = { "server_time_ms", "uint64" }, [6] = { "keepalive_ms", "uint32" },
    [7] = { "session_timeout_ms", "uint32" },
  },
  Result = {
    [1] = { "request_seq", "uint32" }, [2] = { "code", "enum:ErrorCode" },
    [3] = { "text", "string" },
  },
  ListEntry = { [1] = { "name", "string" }, [2] = { "online", "bool" } },
  ListReply = {
    [1] = { "request_seq", "uint32" }, [2] = { "kind", "enum:ListKind" },
    [3] = { "entries", "ListEntry", rep = true }, [4] = { "more", "bool" },
  },
  Sent = {
    [1] = { "request_seq", "uint32" }, [2] = { "client_msg_id", "fixed64" },
    [3] = { "message_id", "uint64" }, [4] = { "server_time_ms", "uint64" },
  },
  Deliver = {
    [1] = { "message_id", "uint64" }, [2] = { "from", "string" },
    [3] = { "group", "string" }, [4] = { "text", "string" },
    [5] = { "server_time_ms", "uint64" }, [6] = { "missed", "bool" },
  },
  Receipt = {
    [1] = { "message_id", "uint64" }, [2] = { "to", "string" },
    [3] = { "delivered_time_ms", "uint64" },
  },
  Presence = { [1] = { "name", "string" }, [2] = { "online", "bool" } },
  BacklogDone = { [1] = { "count", "uint32" } },
  Pong = { [1] = { "time_us", "uint64" } },
  Error = {
    [1] = { "code", "enum:ErrorCode" }, [2] = { "text", "string" },
    [3] = { "client_nonce", "fixed64" },
  },
  Envelope = {
    [1] = { "session_id", "fixed64" }, [2] = { "token", "bytes" },
    [3] = { "seq", "uint32" }, [4] = { "ack", "Ack" },
    [10] = { "register", "Handshake", body = true },
    [11] = { "login", "Handshake", body = true },
    [12] = { "logout", "Logout", body = true },
    [13] = { "list", "ListRequest", body = true },
    [14] = { "create_group", "CreateGroup", body = true },
    [15] = { "join_group", "JoinGroup", body = true },
    [16] = { "leave_group", "LeaveGroup", body = true },
    [17] = { "send", "SendMessage", body = true },
    [18] = { "ping", "Ping", body = true },
    [30] = { "welcome", "Welcome", body = true },
    [31] = { "result", "Result", body = true },
    [32] = { "list_reply", "ListReply", body = true },
    [33] = { "sent", "Sent", body = true },
    [34] = { "deliver", "Deliver", body = true },
    [35] = { "receipt", "Receipt", body = true },
    [36] = { "presence", "Presence", body = true },
    [37] = { "backlog_done", "BacklogDone", body = true },
    [38] = { "pong", "Pong", body = true },
    [39] = { "error", "Error", body = true },
  },
}

-- The wire type each field type must arrive with.
local WIRE = { uint32 = 0, uint64 = 0, bool = 0, fixed64 = 1, string = 2, bytes = 2 }
local function wire_of(ftype)
  if WIRE[ftype] then return WIRE[ftype] end
  if ftype:sub(1, 5) == "enum:" then return 0 end
  return 2 -- a message
end

-- ProtoFields, one per schema field: mychat.<message>.<field>.
local pf = {
  magic = ProtoField.string("mychat.magic", "magic"),
  version = ProtoField.uint8("mychat.version", "version"),
  body = ProtoField.string("mychat.body", "body"),
  unknown = ProtoField.bytes("mychat.unknown", "unknown field"),
}
local fields = { pf.magic, pf.version, pf.body, pf.unknown }
local FIELD = {}
for mname, msg in pairs(SCHEMA) do
  FIELD[mname] = {}
  for num, spec in pairs(msg) do
    local abbr = "mychat." .. mname:lower() .. "." .. spec[1]
    local t, f = spec[2], nil
    if t == "uint32" then f = ProtoField.uint32(abbr, spec[1])
    elseif t == "uint64" then f = ProtoField.uint64(abbr, spec[1])
    elseif t == "fixed64" then f = ProtoField.uint64(abbr, spec[1], base.HEX)
    elseif t == "bool" then f = ProtoField.bool(abbr, spec[1])
    elseif t == "string" then f = ProtoField.string(abbr, spec[1])
    elseif t == "bytes" then f = ProtoField.bytes(abbr, spec[1])
    elseif t:sub(1, 5) == "enum:" then
      f = ProtoField.uint32(abbr, spec[1], base.DEC, ENUMS[t:sub(6)])
    end
    if f then
      FIELD[mname][num] = f
      fields[#fields + 1] = f
    end
  end
end
mychat.fields = fields

local ex_malformed = ProtoExpert.new("mychat.malformed", "Malformed MyChat data",
  expert.group.MALFORMED, expert.severity.ERROR)
local ex_unknown = ProtoExpert.new("mychat.unknown_field", "Unknown field",
  expert.group.UNDECODED, expert.severity.NOTE)
local ex_lua = ProtoExpert.new("mychat.dissector_error", "MyChat dissector error",
  expert.group.MALFORMED, expert.severity.ERROR)
mychat.experts = { ex_malformed, ex_unknown, ex_lua }

local MAX_DEPTH = 8

-- What the Info column shows, gathered while one packet is dissected.
local info = {}

-- Reads a varint at |off| (before |limit|). Returns a UInt64 and the next
-- offset, or nil and a reason.
local function varint(tvb, off, limit)
  local v = UInt64(0)
  local shift = 0
  while off < limit do
    local b = tvb(off, 1):uint()
    off = off + 1
    if shift < 64 then
      v = v:bor(UInt64(bit32.band(b, 0x7f)):lshift(shift))
    end
    if b < 0x80 then return v, off end
    shift = shift + 7
    if shift >= 70 then return nil, "varint longer than 10 bytes" end
  end
  return nil, "varint cut short"
end

local dissect_message

-- Flags |text| as malformed on |tree|; returns false, for "return bad(...)".
local function bad(tree, text)
  tree:add_proto_expert_info(ex_malformed, text)
  return false
end

-- Adds one field value (already known to have the right wire type).
local function add_value(tvb, tree, mname, num, spec, off, vend, value, depth)
  local t = spec[2]
  local f = FIELD[mname][num]
  local range = tvb(off, vend - off)
  if SCHEMA[t] then
    local label = spec[1]
    if spec.rep then label = label .. " (" .. t .. ")" end
    local sub = tree:add(range, label .. ":")
    return dissect_message(tvb, off, vend, sub, t, depth + 1)
  elseif t == "string" then
    tree:add(f, range, range:string(ENC_UTF_8))
  elseif t == "bytes" then
    local item = tree:add(f, range)
    local n = vend - off
    if mname == "Envelope" and num == 2 and n ~= 0 and n ~= 16 then
      item:add_proto_expert_info(ex_malformed, "token is " .. n .. " bytes, not 0 or 16")
    end
  elseif t == "fixed64" then
    tree:add_le(f, range)
  elseif t == "bool" then
    tree:add(f, range, value:tonumber() ~= 0)
  elseif t == "uint32" or t:sub(1, 5) == "enum:" then
    local n = value:tonumber()
    if mname == "Envelope" and num == 3 then info.seq = n end
    if mname == "Ack" and num == 1 then info.ack = n end
    if n > 4294967295 then
      tree:add_proto_expert_info(ex_malformed, spec[1] .. ": value over 32 bits")
      n = n % 4294967296
    end
    tree:add(f, range, n)
  else
    tree:add(f, range, value)
  end
  return true
end

-- Dissects the protobuf message of schema |mname| in [off, limit).
-- Returns true, or false after flagging malformed data.
dissect_message = function(tvb, off, limit, tree, mname, depth)
  if depth > MAX_DEPTH then
    return bad(tree, "messages nested too deep")
  end
  local msg = SCHEMA[mname]
  while off < limit do
    local fstart = off
    local tag, nxt = varint(tvb, off, limit)
    if not tag then return bad(tree, "field tag: " .. nxt) end
    off = nxt
    local tagn = tag:tonumber()
    local num, wt = math.floor(tagn / 8), tagn % 8
    if num == 0 or num > 536870911 then
      return bad(tree, "field number " .. num .. " out of range")
    end
    -- Find the end of the value whatever its type.
    local value, vstart, vend = nil, off, nil
    if wt == 0 then
      value, nxt = varint(tvb, off, limit)
      if not value then return bad(tree, "field " .. num .. ": " .. nxt) end
      vend = nxt
    elseif wt == 1 or wt == 5 then
      vend = off + (wt == 1 and 8 or 4)
    elseif wt == 2 then
      local len
      len, nxt = varint(tvb, off, limit)
      if not len then return bad(tree, "field " .. num .. " length: " .. nxt) end
      vstart = nxt
      if len > UInt64(limit - vstart) then
        return bad(tree, "field " .. num .. ": length " .. tostring(len) .. " past the end")
      end
      vend = vstart + len:tonumber()
    else
      return bad(tree, "field " .. num .. ": wire type " .. wt .. " not used by MyChat")
    end
    if vend > limit then return bad(tree, "field " .. num .. " cut short") end
    local spec = msg[num]
    if spec and wire_of(spec[2]) ~= wt then
      local item = tree:add(tvb(fstart, vend - fstart),
        spec[1] .. ": wrong wire type " .. wt)
      item:add_proto_expert_info(ex_malformed, "wrong wire type for " .. spec[1])
      return false
    elseif spec then
      if spec.body then
        tree:add(pf.body, tvb(fstart, vend - fstart), spec[1])
        info.body = spec[1]
      end
      if not add_value(tvb, tree, mname, num, spec, vstart, vend, value, depth) then
        return false
      end
    else
      local item = tree:add(pf.unknown, tvb(fstart, vend - fstart))
      item:set_text("unknown field " .. num .. " (wire type " .. wt .. ", " ..
        (vend - fstart) .. " bytes)")
      item:add_proto_expert_info(ex_unknown)
      if mname == "Envelope" and num >= 10 then
        item:add_proto_expert_info(ex_malformed, "unknown body (field " .. num .. ")")
      end
    end
    off = vend
  end
  return true
end

local function is_mychat(tvb)
  return tvb:len() >= 4 and tvb(0, 3):string() == "MYC" and tvb(3, 1):uint() == 1
end

function mychat.dissector(tvb, pinfo, tree)
  if tvb:len() < 4 or tvb(0, 3):string() ~= "MYC" then return 0 end
  pinfo.cols.protocol = "MyChat"
  local root = tree:add(mychat, tvb())
  root:add(pf.magic, tvb(0, 3))
  root:add(pf.version, tvb(3, 1))
  if tvb(3, 1):uint() ~= 1 then
    root:add_proto_expert_info(ex_malformed, "unsupported version")
    return tvb:len()
  end
  if tvb:len() > 1200 then
    root:add_proto_expert_info(ex_malformed, "datagram over 1200 bytes")
  end
  info = {}
  local env = root:add(tvb(4), "Envelope")
  local ok, res = pcall(dissect_message, tvb, 4, tvb:len(), env, "Envelope", 0)
  if not ok then
    root:add_proto_expert_info(ex_lua, tostring(res))
  end
  local text = info.body or "ack-only"
  if info.seq then text = text .. " seq=" .. info.seq end
  if info.ack then text = text .. " ack=" .. info.ack end
  if not ok or not res then text = text .. " [malformed]" end
  pinfo.cols.info = text
  return tvb:len()
end

local function heuristic(tvb, pinfo, tree)
  if not is_mychat(tvb) then return false end
  mychat.dissector(tvb, pinfo, tree)
  return true
end

DissectorTable.get("udp.port"):add(8000, mychat)
mychat:register_heuristic("udp", heuristic)
