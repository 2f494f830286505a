-- heartbeat.lua: a Wireshark dissector for Linux-HA Heartbeat 3.0.6 (UDP 694).
--
-- Part of hbnode's lab (hblab). It decodes both wire encodings of docs/protocol.md:
-- the netstring one ("###\n" ... "%%%\n" plus an auth trailer, what 3.0.6 sends, §1.4)
-- and the classic text one (">>>\n" ... "<<<\n", glue <= 1.0.9, §1.3), nested
-- messages included. Every Heartbeat field gets a field of its own (heartbeat.t,
-- heartbeat.src, heartbeat.seq, ...) besides the generic name/value pairs
-- (heartbeat.field.name, heartbeat.field.value).
--
-- Signatures: set the preference heartbeat.authkeys to an authkeys file
-- (tshark -o heartbeat.authkeys:/etc/ha.d/authkeys). Wireshark's Lua has no
-- crypto, so CRC-32, MD5, SHA-1 and HMAC are written out below (§2.2).
--
-- Install: `hblab wireshark install`, or `tshark -X lua_script:heartbeat.lua`.
-- It runs on Lua 5.2 (Wireshark <= 4.2) and Lua 5.3/5.4 (later releases).
--
-- Rule of the house: bad bytes never raise a Lua error. Parsing failures are
-- marked as malformed (expert info), and any bug of ours is caught and shown as
-- an expert item instead of breaking the dissection.

-- The same file loaded twice (installed plugin + -X lua_script) would fail to
-- register its protocol a second time: the first one loaded stays.
if rawget(_G, "hbnode_heartbeat") then
    return
end

local M = { version = "1" } -- exported as the global hbnode_heartbeat, for tests

---------------------------------------------------------------------------------
-- 32-bit arithmetic
---------------------------------------------------------------------------------
local band, bor, bxor, bnot, lshift, rshift, lrotate
if bit32 then -- Lua 5.2
    band, bor, bxor, bnot = bit32.band, bit32.bor, bit32.bxor, bit32.bnot
    lshift, rshift, lrotate = bit32.lshift, bit32.rshift, bit32.lrotate
else
    -- Lua 5.3+ has no bit32 but native operators, which Lua 5.2 cannot even
    -- parse: compile them from a string so that this file loads on both.
    local ops = assert(load([[
        local W = 0xFFFFFFFF
        return {
            function(a, b) return (a & b) & W end,
            function(a, b) return (a | b) & W end,
            function(a, b) return (a ~ b) & W end,
            function(a) return (~a) & W end,
            function(a, n) return (a << n) & W end,
            function(a, n) return (a & W) >> n end,
            function(a, n) a = a & W; return ((a << n) | (a >> (32 - n))) & W end,
        }
    ]]))()
    band, bor, bxor, bnot, lshift, rshift, lrotate = table.unpack(ops)
end
local TWO32 = 4294967296

---------------------------------------------------------------------------------
-- Digests (protocol.md §2.2): md5/sha1 HMACs and Heartbeat's CRC-32
---------------------------------------------------------------------------------
local function to_hex(raw)
    return (raw:gsub(".", function(c)
        return string.format("%02x", c:byte())
    end))
end

local function word_le(w)
    return string.char(w % 256, rshift(w, 8) % 256, rshift(w, 16) % 256, rshift(w, 24) % 256)
end

local function word_be(w)
    return string.char(rshift(w, 24) % 256, rshift(w, 16) % 256, rshift(w, 8) % 256, w % 256)
end

-- Both hashes pad the same way: 0x80, zeros to 56 mod 64, then the bit length.
local function md_pad(data, little_endian)
    local bits = #data * 8
    local low, high = bits % TWO32, math.floor(bits / TWO32)
    local zeros = (55 - #data) % 64
    local length = little_endian and (word_le(low) .. word_le(high)) or (word_be(high) .. word_be(low))
    return data .. "\128" .. string.rep("\0", zeros) .. length
end

-- MD5 (RFC 1321): per-round shifts, and the sine-derived constants of its §3.4.
local MD5_S = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
}
local MD5_K = {}
for i = 1, 64 do
    MD5_K[i] = math.floor(math.abs(math.sin(i)) * TWO32)
end


local function md5(data)
    local msg = md_pad(data, true)
    local a0, b0, c0, d0 = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476
    local x = {}
    for block = 1, #msg, 64 do
        for j = 0, 15 do
            local p = block + j * 4
            local b1, b2, b3, b4 = msg:byte(p, p + 3)
            x[j] = b1 + b2 * 256 + b3 * 65536 + b4 * 16777216
        end
        local a, b, c, d = a0, b0, c0, d0
        for i = 0, 63 do
            local f, g
            if i < 16 then
                f, g = bor(band(b, c), band(bnot(b), d)), i
            elseif i < 32 then
                f, g = bor(band(d, b), band(bnot(d), c)), (5 * i + 1) % 16
            elseif i < 48 then
                f, g = bxor(bxor(b, c), d), (3 * i + 5) % 16
            else
                f, g = bxor(c, bor(b, bnot(d))), (7 * i) % 16
            end
            local rotated = lrotate((a + f + MD5_K[i + 1] + x[g]) % TWO32, MD5_S[i + 1])
            a, b, c, d = d, (b + rotated) % TWO32, b, c
        end
        a0, b0, c0, d0 = (a0 + a) % TWO32, (b0 + b) % TWO32, (c0 + c) % TWO32, (d0 + d) % TWO32
    end
    return word_le(a0) .. word_le(b0) .. word_le(c0) .. word_le(d0)
end

-- SHA-1 (FIPS 180-1).
local function sha1(data)
    local msg = md_pad(data, false)
    local h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0
    local w = {}
    for block = 1, #msg, 64 do
        for j = 0, 15 do
            local p = block + j * 4
            local b1, b2, b3, b4 = msg:byte(p, p + 3)
            w[j] = b1 * 16777216 + b2 * 65536 + b3 * 256 + b4
        end
        for j = 16, 79 do
            w[j] = lrotate(bxor(bxor(w[j - 3], w[j - 8]), bxor(w[j - 14], w[j - 16])), 1)
        end
        local a, b, c, d, e = h0, h1, h2, h3, h4
        for j = 0, 79 do
            local f, k
            if j < 20 then
                f, k = bor(band(b, c), band(bnot(b), d)), 0x5A827999
            elseif j < 40 then
                f, k = bxor(bxor(b, c), d), 0x6ED9EBA1
            elseif j < 60 then
                f, k = bor(bor(band(b, c), band(b, d)), band(c, d)), 0x8F1BBCDC
            else
                f, k = bxor(bxor(b, c), d), 0xCA62C1D6
            end
            local temp = (lrotate(a, 5) + f + e + k + w[j]) % TWO32
            a, b, c, d, e = temp, a, lrotate(b, 30), c, d
        end
        h0, h1 = (h0 + a) % TWO32, (h1 + b) % TWO32
        h2, h3, h4 = (h2 + c) % TWO32, (h3 + d) % TWO32, (h4 + e) % TWO32
    end
    return word_be(h0) .. word_be(h1) .. word_be(h2) .. word_be(h3) .. word_be(h4)
end

-- HMAC (RFC 2104), block size 64 for both hashes; a longer key is hashed first.
local function hmac(hash, key, data)
    if #key > 64 then
        key = hash(key)
    end
    key = key .. string.rep("\0", 64 - #key)
    local inner, outer = {}, {}
    for i = 1, 64 do
        local k = key:byte(i)
        inner[i] = string.char(bxor(k, 0x36))
        outer[i] = string.char(bxor(k, 0x5c))
    end
    return hash(table.concat(outer) .. hash(table.concat(inner) .. data))
end

-- Heartbeat's `crc` (HBauth/crc.c): CRC-32, polynomial 0x04C11DB7, MSB first,
-- initial value 0, result inverted, no length appended (check "123456789" = 765e7680).
local CRC_TABLE = {}
for byte = 0, 255 do
    local crc = lshift(byte, 24)
    for _ = 1, 8 do
        if band(crc, 0x80000000) ~= 0 then
            crc = bxor(lshift(crc, 1), 0x04C11DB7)
        else
            crc = lshift(crc, 1)
        end
    end
    CRC_TABLE[byte] = crc
end

local function heartbeat_crc(data)
    local crc = 0
    for i = 1, #data do
        crc = bxor(lshift(crc, 8), CRC_TABLE[bxor(rshift(crc, 24), data:byte(i))])
    end
    return bxor(crc, 0xFFFFFFFF)
end

-- The digest text exactly as Heartbeat prints it: lowercase hex, and crc as %lx.
local function compute_digest(key, data)
    if key.method == "crc" then
        return string.format("%x", heartbeat_crc(data))
    end
    return to_hex(hmac(key.method == "md5" and md5 or sha1, key.secret, data))
end

M.md5 = function(data) return to_hex(md5(data)) end
M.sha1 = function(data) return to_hex(sha1(data)) end
M.hmac_md5 = function(key, data) return to_hex(hmac(md5, key, data)) end
M.hmac_sha1 = function(key, data) return to_hex(hmac(sha1, key, data)) end
M.crc = function(data) return string.format("%x", heartbeat_crc(data)) end

---------------------------------------------------------------------------------
-- Text helpers: base64 (classic binary fields), UTF-8 for display
---------------------------------------------------------------------------------
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_VALUE = {}
for i = 1, 64 do
    B64_VALUE[B64:byte(i)] = i - 1
end

local function base64_encode(raw)
    local out = {}
    for i = 1, #raw, 3 do
        local a, b, c = raw:byte(i, i + 2)
        local n = a * 65536 + (b or 0) * 256 + (c or 0)
        local d1, d2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
        local d3, d4 = math.floor(n / 64) % 64, n % 64
        out[#out + 1] = B64:sub(d1 + 1, d1 + 1) .. B64:sub(d2 + 1, d2 + 1)
            .. (b and B64:sub(d3 + 1, d3 + 1) or "=") .. (c and B64:sub(d4 + 1, d4 + 1) or "=")
    end
    return table.concat(out)
end

-- Decodes as the receiver (hbnode.wire: Python's strict base64) does: only the
-- alphabet, then '=' only; 2 or 3 trailing digits need exactly 2 or 1 '=', a
-- complete last quad takes any number of them. Returns the bytes, or nil and why not.
local function base64_decode(text)
    local body, pad = text:match("^([A-Za-z0-9+/]*)(=*)$")
    if not body then
        return nil, "bad base64: not base64 digits"
    end
    local rest = #body % 4
    if (#body == 0 and #pad > 0) or rest == 1 or (rest == 2 and #pad ~= 2) or (rest == 3 and #pad ~= 1) then
        return nil, "bad base64: incorrect padding"
    end
    local out = {}
    for i = 1, #body, 4 do
        local chunk = body:sub(i, i + 3)
        local n = 0
        for j = 1, 4 do
            n = n * 64 + (B64_VALUE[chunk:byte(j)] or 0)
        end
        local bytes = string.char(math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
        out[#out + 1] = bytes:sub(1, #chunk - 1 + (#chunk == 4 and 1 or 0))
    end
    return table.concat(out)
end
M.base64_encode, M.base64_decode = base64_encode, base64_decode

local REPLACEMENT = "\239\191\189" -- U+FFFD
-- Wireshark copies a string field's bytes as they are; JSON output and the GUI
-- need valid UTF-8 (names and values are bytes on the wire), and C cuts at NUL.
local function clean(s)
    s = s:gsub("\0", "\\0")
    if not s:find("[\128-\255]") then
        return s
    end
    local out, i, n = {}, 1, #s
    while i <= n do
        local c = s:byte(i)
        local size = (c < 0x80 and 1) or (c >= 0xC2 and c <= 0xDF and 2) or (c >= 0xE0 and c <= 0xEF and 3)
            or (c >= 0xF0 and c <= 0xF4 and 4) or 0
        local ok = size > 0 and i + size - 1 <= n
        for j = i + 1, ok and i + size - 1 or i do
            local cc = s:byte(j)
            if cc < 0x80 or cc > 0xBF then
                ok = false
            end
        end
        if ok and size > 2 then -- no overlong forms, surrogates or code points past U+10FFFF
            local c2 = s:byte(i + 1)
            if (c == 0xE0 and c2 < 0xA0) or (c == 0xED and c2 > 0x9F) or (c == 0xF0 and c2 < 0x90)
                or (c == 0xF4 and c2 > 0x8F) then
                ok = false
            end
        end
        if ok then
            out[#out + 1] = s:sub(i, i + size - 1)
            i = i + size
        else
            out[#out + 1] = REPLACEMENT
            i = i + 1
        end
    end
    return table.concat(out)
end

---------------------------------------------------------------------------------
-- Parsing (protocol.md §1.3, §1.4). The rules are the receiver's, those of
-- hbnode.wire's decode_untrusted: whatever it refuses is marked malformed here.
---------------------------------------------------------------------------------
local MAXMSG = 256 * 1024 -- ipc.h MAXMSG: a datagram must be shorter
local MAXDEPTH = 16 -- ha_msg.h: nested messages at most 16 deep
-- Classic: the "\n" of a nested message rendered at depth d travel as DEPTH_SYMS[d].
local DEPTH_SYMS = { [0] = 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 15, 16, 17, 18 }
local NEWLINE_SYM = "\19" -- classic: a newline inside a string value

local Malformed = {}
local function malformed(reason, offset)
    error(setmetatable({ reason = reason, offset = offset }, Malformed), 0)
end

-- A netstring length: "0", or 1 to 6 digits without a leading zero (glue's
-- lengths stay under MAXMSG), followed by ':'.
local function netstring_length(s, pos)
    local digits = s:match("^([0-9]+):", pos)
    if digits and (digits == "0" or (digits:byte(1) ~= 48 and #digits <= 6)) then
        return digits
    end
    return nil
end

-- One "LEN:payload," at pos: payload first and last index, next position.
local function peel(s, pos, base)
    local digits = netstring_length(s, pos)
    if not digits then
        malformed("bad netstring length: " .. string.format("%q", s:sub(pos, pos + 7)), base + pos - 1)
    end
    local first = pos + #digits + 1
    local comma = first + tonumber(digits)
    if comma > #s or s:byte(comma) ~= 44 then
        malformed("netstring overruns the data or lacks its ','", base + pos - 1)
    end
    return first, comma - 1, comma + 1, #digits
end

-- Type 3: "len:str,len:str," with at least one non-empty element.
local function parse_list(v, base)
    local items, pos = {}, 1
    while pos <= #v do
        local digits = netstring_length(v, pos)
        if not digits or digits == "0" then
            malformed("bad list element length", base + pos - 1)
        end
        local first = pos + #digits + 1
        local comma = first + tonumber(digits)
        if comma > #v or v:byte(comma) ~= 44 then
            malformed("list element overruns or lacks its ','", base + pos - 1)
        end
        items[#items + 1] = { text = v:sub(first, comma - 1), off = base + first - 1 }
        pos = comma + 1
    end
    if #items == 0 then
        malformed("empty list field", base)
    end
    return items
end

local function check_name(name, offset)
    if name == "" or name:find("[\0\n]") then
        malformed("bad field name " .. string.format("%q", name:sub(1, 32)), offset)
    end
end

local parse_netstring_message -- recursive with parse_netstring_field

-- "(T)name=value" of the payload s[first..last] (cl_netstring.c process_netstring_nvpair).
local function parse_netstring_field(s, base, first, last, depth, field)
    if last - first + 1 < 3 or s:byte(first) ~= 40 or s:byte(first + 2) ~= 41 then
        malformed("netstring field lacks its '(T)' prefix", base + first - 1)
    end
    local ftype = s:byte(first + 1) - 48
    if ftype < 0 or ftype > 5 then
        malformed("bad field type " .. string.format("%q", s:sub(first + 1, first + 1)), base + first)
    end
    local equals = s:find("=", first + 3, true)
    if not equals or equals > last then
        malformed("netstring field has no '='", base + first - 1)
    end
    local name = s:sub(first + 3, equals - 1)
    check_name(name, base + first + 2)
    local value = s:sub(equals + 1, last)
    field.name, field.ftype, field.raw = name, ftype, value
    field.type_off, field.name_off = base + first, base + first + 2
    field.value_off, field.value_len = base + equals, #value
    if ftype == 0 or ftype == 1 or ftype == 4 then
        field.value = value
    elseif ftype == 3 then
        field.items = parse_list(value, field.value_off)
    else
        if depth >= MAXDEPTH then
            malformed("field " .. name .. ": messages nested deeper than " .. MAXDEPTH, field.value_off)
        end
        field.child = { fields = {} }
        local stop = parse_netstring_message(value, field.value_off, depth + 1, field.child)
        if stop ~= #value + 1 then
            malformed("field " .. name .. ": bytes after the nested message", field.value_off + stop - 1)
        end
    end
end

-- A "###\n" ... "%%%\n" message at the start of s (tvb offset base); fills msg and
-- returns the index just past "%%%\n". Fields are appended as soon as they are
-- known, so that a malformed datagram still shows what came before the fault.
parse_netstring_message = function(s, base, depth, msg)
    if s:sub(1, 4) ~= "###\n" then
        malformed("nested netstring message lacks '###\\n'", base)
    end
    local pos = 5
    while s:sub(pos, pos + 3) ~= "%%%\n" do
        if pos > #s then
            malformed("netstring message lacks '%%%\\n'", base + pos - 1)
        end
        local first, last, after, ndigits = peel(s, pos, base)
        local field = { off = base + pos - 1, len = after - pos, len_digits = ndigits, nslen = last - first + 1 }
        msg.fields[#msg.fields + 1] = field
        parse_netstring_field(s, base, first, last, depth, field)
        pos = after
    end
    return pos + 4
end

local parse_classic_message

-- One "name=value" or "(T)name=encoded" line s[first..last] (cl_msg_types.c).
local function parse_classic_field(s, base, first, last, depth, field)
    local ftype, start = 0, first
    if s:byte(first) == 40 then
        if last - first + 1 < 3 or s:byte(first + 2) ~= 41 then
            malformed("classic field: no closing parenthesis", base + first - 1)
        end
        ftype = s:byte(first + 1) - 48
        if ftype < 1 or ftype > 5 then -- "(0)" does not exist in the classic text
            malformed("bad field type " .. string.format("%q", s:sub(first + 1, first + 1)), base + first)
        end
        start = first + 3
        field.type_off = base + first
    end
    local equals = s:find("=", start, true)
    if not equals or equals >= last then -- ha_msg_add_nv_depth refuses an empty value
        malformed("classic field without '=value'", base + first - 1)
    end
    local name = s:sub(start, equals - 1)
    check_name(name, base + start - 1)
    local raw = s:sub(equals + 1, last)
    field.name, field.ftype, field.raw = name, ftype, raw
    field.name_off, field.value_off, field.value_len = base + start - 1, base + equals, #raw
    if ftype == 0 then
        field.value = raw:gsub(NEWLINE_SYM, "\n")
    elseif ftype == 1 or ftype == 4 then
        local bytes, why = base64_decode(raw)
        if not bytes then
            malformed("field " .. name .. ": " .. why, field.value_off)
        end
        field.value = bytes
    elseif ftype == 3 then
        field.items = parse_list(raw, field.value_off)
    elseif ftype == 5 or depth >= MAXDEPTH then -- type 5 has no classic form
        malformed("field " .. name .. ": type " .. ftype .. " unsupported at depth " .. depth, field.value_off)
    else
        -- Same length after the swap, so offsets in the child are offsets in the datagram.
        local child_text = raw:gsub(string.char(DEPTH_SYMS[depth]), "\n")
        field.child = { fields = {} }
        parse_classic_message(child_text, field.value_off, depth + 1, field.child)
    end
end

-- ">>>\n" lines "<<<\n" and nothing after it (cl_msg.c string2msg_ll).
parse_classic_message = function(s, base, depth, msg)
    if s:sub(1, 4) ~= ">>>\n" then
        malformed("nested classic message lacks '>>>\\n'", base)
    end
    if s:find("\0", 1, true) then
        malformed("NUL inside a classic message", base + s:find("\0", 1, true) - 1)
    end
    local pos = 5
    while true do
        while s:byte(pos) == 10 do -- blank lines are skipped
            pos = pos + 1
        end
        if s:sub(pos, pos + 3) == "<<<\n" then
            break
        end
        local newline = s:find("\n", pos, true)
        if not newline then
            malformed("classic message lacks '<<<\\n'", base + pos - 1)
        end
        local field = { off = base + pos - 1, len = newline - pos + 1 }
        msg.fields[#msg.fields + 1] = field
        parse_classic_field(s, base, pos, newline - 1, depth, field)
        pos = newline + 1
    end
    if pos + 3 ~= #s then
        malformed("bytes after '<<<\\n'", base + pos + 3)
    end
end

---------------------------------------------------------------------------------
-- What is signed (protocol.md §2.3): the classic rendering of the fields
---------------------------------------------------------------------------------
local classic_lines

local function classic_line(f, depth)
    if f.ftype == 0 then
        return f.name .. "=" .. f.value:gsub("\n", NEWLINE_SYM) .. "\n"
    elseif f.ftype == 1 or f.ftype == 4 then
        return "(" .. f.ftype .. ")" .. f.name .. "=" .. base64_encode(f.value) .. "\n"
    elseif f.ftype == 3 then
        local packed = {}
        for _, item in ipairs(f.items) do
            packed[#packed + 1] = #item.text .. ":" .. item.text .. ","
        end
        return "(3)" .. f.name .. "=" .. table.concat(packed) .. "\n"
    elseif f.ftype == 2 and depth < MAXDEPTH then
        local text = classic_lines(f.child, depth + 1, true)
        local marker = string.char(DEPTH_SYMS[depth])
        if text and not text:find(marker, 1, true) then
            return "(2)" .. f.name .. "=" .. text:gsub("\n", marker) .. "\n"
        end
    end
    return nil -- type 5, or a nested message the classic text cannot carry
end

-- The classic lines of msg (its top-level auth fields left out), framed in
-- ">>>"/"<<<" when asked; nil when the classic text cannot carry it.
classic_lines = function(msg, depth, framed)
    local parts = {}
    for _, f in ipairs(msg.fields) do
        if depth > 0 or f.name ~= "auth" then
            local line = classic_line(f, depth)
            if not line then
                return nil
            end
            parts[#parts + 1] = line
        end
    end
    local body = table.concat(parts)
    return framed and (">>>\n" .. body .. "<<<\n") or body
end

---------------------------------------------------------------------------------
-- A whole datagram
---------------------------------------------------------------------------------
-- Fills result: encoding, message, trailer, signed_end. Raises Malformed.
local function parse_datagram(data, result)
    if #data >= MAXMSG then
        malformed("datagram of " .. #data .. " bytes: MAXMSG is " .. MAXMSG, 0)
    end
    local head = data:sub(1, 4)
    if head == "###\n" then
        result.encoding = "netstring"
        local stop = parse_netstring_message(data, 0, 0, result.message)
        result.signed_end = stop - 1
        if stop <= #data then
            local first, last, after = peel(data, stop, 0)
            result.trailer = { off = stop - 1, len = after - stop, text = data:sub(first, last), text_off = first - 1 }
            if after ~= #data + 1 then
                malformed(#data + 1 - after .. " bytes of garbage after the auth trailer", after - 1)
            end
        end
    elseif head == ">>>\n" then
        result.encoding = "classic"
        local body = data:byte(#data) == 0 and data:sub(1, -2) or data -- glue <= 1.0.9 sends strlen+1
        parse_classic_message(body, 0, 0, result.message)
    else
        malformed("starts with neither '###\\n' nor '>>>\\n'", 0)
    end
end

-- The last string field called name (isauthentic() keeps the last auth field).
local function last_string(msg, name)
    local found
    for _, f in ipairs(msg.fields) do
        if f.name == name then
            found = f.ftype == 0 and f or nil
        end
    end
    return found
end

local function first_string(msg, name)
    for _, f in ipairs(msg.fields) do
        if f.name == name and f.ftype == 0 then
            return f.value
        end
    end
    return nil
end

---------------------------------------------------------------------------------
-- authkeys (protocol.md §2.1), read exactly as hbnode.config.authkeys reads it,
-- which follows Heartbeat's auth.c parse_authfile:
--   a line whose first non-blank character is "a" is an auth line, sscanf("auth %d")
--     ("auth1", "auth +1", "auth 01", "auth 1x": all 1); the last one in force when a
--     key line is read decides whether that key line becomes the signing key;
--   any other non-blank, non-comment line is a key line, sscanf("%d%s%s"): index,
--     method, key are the first three words ("1sha1 k", "01 sha1 k"), the rest of
--     the line is ignored (a key with spaces signs with its first word), and a "#"
--     read as the key is part of it; a later line for the same index replaces it.
---------------------------------------------------------------------------------
local BLANK = "[ \t\n\v\f\r]" -- isspace() in the C locale (Python's \s under re.ASCII)
local TOKEN = "[^ \t\n\v\f\r]"

-- Python's int() of "[+-]?[0-9]+": a number to compare with, and its exact text.
-- One too long for any index is held as +-1e9 (no index, and no overflow).
local function decimal(sign, digits)
    digits = digits:gsub("^0+", "")
    if digits == "" then
        return 0, "0"
    end
    local value = #digits > 9 and 1e9 or tonumber(digits)
    if sign == "-" then
        return -value, "-" .. digits
    end
    return value, digits
end

-- s without the characters of class (a one-character pattern) at either end; in
-- linear time (a gsub with "+$" would go quadratic on a long run of blanks).
local function strip(s, class)
    local first, last = 1, #s
    while first <= last and s:sub(first, first):find(class) do
        first = first + 1
    end
    while last >= first and s:sub(last, last):find(class) do
        last = last - 1
    end
    return s:sub(first, last)
end

-- What follows the words sscanf read, unless it is only blanks or a comment.
local function trailing(rest)
    rest = strip(rest, BLANK)
    return rest:sub(1, 1) ~= "#" and rest or ""
end

-- For the messages, worded as hbnode's: Python's str.strip()/rstrip() and repr(),
-- on the ASCII characters (other bytes are shown as they are).
local PY_SPACE = "[ \t\n\v\f\r\28-\31]"
local function py_rstrip(s)
    local last = #s
    while last > 0 and s:sub(last, last):find(PY_SPACE) do
        last = last - 1
    end
    return s:sub(1, last)
end
local function py_strip(s)
    return strip(s, PY_SPACE)
end
local function py_repr(s)
    local quote = (s:find("'", 1, true) and not s:find('"', 1, true)) and '"' or "'"
    local escapes = { ["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n", ["\r"] = "\\r", [quote] = "\\" .. quote }
    return quote .. s:gsub("[\0-\31\127\\'\"]", function(c)
        return escapes[c] or (c == "'" or c == '"') and c or string.format("\\x%02x", c:byte())
    end) .. quote
end

local METHODS = { crc = true, md5 = true, sha1 = true } -- plugin names: case matters

-- Returns keys, nil, warnings or nil, errors, warnings: keys is
-- {outbound = N, keys = {[N] = {index, method, secret}}}; errors is every problem as
-- "file:line: why" in file order, joined by "; "; warnings a list of the same form.
local function parse_authkeys(text, path)
    local st = { authnum = -1, authtext = "-1", keys = {}, key_lines = {}, errors = {}, warnings = {} }
    local function problem(list, line, message)
        list[#list + 1] = { line = line, text = path .. (line and ":" .. line or "") .. ": " .. message }
    end
    local number = 0
    for raw in (text .. "\n"):gmatch("([^\n]*)\n") do
        number = number + 1
        local body = raw:gsub("^[ \t\n\r\f]+", "") -- heartbeat.h WHITESPACE: no \v
        local shown = py_rstrip(raw)
        if body == "" or body:sub(1, 1) == "#" then
            -- a blank line or a comment
        elseif body:sub(1, 1) == "a" then
            local sign, digits, rest = body:match("^auth" .. BLANK .. "*([+-]?)([0-9]+)(.*)$")
            if not digits then
                problem(st.errors, number, "Invalid auth line [" .. shown .. "] in " .. path)
            else
                if st.auth_line then
                    problem(st.warnings, number, "auth given again (first on line " .. st.auth_line
                        .. "): only key lines after this one can become the signing key")
                end
                st.authnum, st.authtext = decimal(sign, digits)
                st.auth_line = number
                if trailing(rest) ~= "" then
                    problem(st.warnings, number, py_repr(py_strip(rest)) .. " after 'auth " .. st.authtext .. "' is ignored")
                end
            end
        else
            -- \s*([+-]?[0-9]+)\s*(\S+)\s*(\S*)(.*): the digits give their last one
            -- back to the method when nothing else follows them ("15" is 1, "5").
            local sign, digits, after = body:match("^" .. BLANK .. "*([+-]?)([0-9]+)()")
            local name, secret, rest
            if digits then
                name, secret, rest = body:match("^" .. BLANK .. "*(" .. TOKEN .. "+)" .. BLANK .. "*(" .. TOKEN
                    .. "*)(.*)$", after)
                if not name and #digits > 1 then
                    digits, name, secret, rest = digits:sub(1, -2), digits:sub(-1), "", ""
                end
            end
            local index, index_text
            if name then
                index, index_text = decimal(sign, digits)
            end
            if not name then
                problem(st.errors, number, "Auth line [" .. shown .. "] is invalid.")
            elseif index < 0 or index >= 16 then
                problem(st.errors, number, "Invalid authnum [" .. index_text .. "] in " .. path .. " (want 0..15)")
            elseif not METHODS[name] then
                problem(st.errors, number, "Invalid authtype [" .. name .. "] (want crc, md5 or sha1)")
            elseif name == "crc" and secret ~= "" then
                problem(st.errors, number, "Auth method [crc] doesn't use a key")
            elseif name ~= "crc" and secret == "" then
                problem(st.errors, number, "Auth method [" .. name .. "] requires a key")
            else
                if secret:sub(1, 1) == "#" then
                    problem(st.warnings, number, "the key is " .. py_repr(secret) .. ": a '#' here is part of the key, not a comment")
                elseif trailing(rest) ~= "" then
                    problem(st.warnings, number, "the key is only " .. py_repr(secret) .. ": the words after it ("
                        .. py_repr(py_strip(rest)) .. ") are ignored")
                end
                if st.key_lines[index] then
                    problem(st.warnings, number, "key " .. index_text .. " is defined again (first on line "
                        .. st.key_lines[index] .. "); this one counts")
                end
                st.keys[index] = { index = index, method = name, secret = secret }
                st.key_lines[index] = number
                if index == st.authnum then
                    st.outbound = index
                end
            end
        end
    end
    if st.outbound == nil then
        if st.authnum < 0 then
            problem(st.errors, nil, "Missing auth directive in keyfile [" .. path .. "]")
        else
            local message = "Auth Key [" .. st.authtext .. "] not found in keyfile [" .. path .. "]"
            local line = st.key_lines[st.authnum]
            if line and line < st.auth_line then
                message = message .. ": key " .. st.authtext .. " is on line " .. line
                    .. "; Heartbeat only looks after 'auth'"
            end
            problem(st.errors, st.auth_line, message)
        end
    end
    local warnings = {}
    for i, w in ipairs(st.warnings) do
        warnings[i] = w.text
    end
    if #st.errors > 0 then
        -- file order; the problems of the whole file (no line) last; stable
        for i, e in ipairs(st.errors) do
            e.order = i
        end
        table.sort(st.errors, function(a, b)
            local la, lb = a.line or math.huge, b.line or math.huge
            if la ~= lb then
                return la < lb
            end
            return a.order < b.order
        end)
        local texts = {}
        for i, e in ipairs(st.errors) do
            texts[i] = e.text
        end
        return nil, table.concat(texts, "; "), warnings
    end
    return { outbound = st.outbound, keys = st.keys }, nil, warnings
end

-- The auth string (the trailer, or an auth field) split as hbnode.auth's
-- parse_auth_untrusted splits it, which is C's sscanf("%d %s"): blanks, a decimal
-- index with an optional sign taking every digit ("31" is no (3, "1")), then zero
-- or more blanks (the format's blank matches none too: "3abc" is (3, "abc")), then
-- a token ending at a blank or NUL; the rest is ignored. Returns the index, the
-- digest and where each starts in text (1-based), the index's length; nil when
-- it does not parse. An index too long to be real is -1, which no key has.
local function scan_auth_string(text)
    local index_at, sign, digits, after = text:match("^" .. BLANK .. "*()([+-]?)([0-9]+)()")
    if not digits then
        return nil
    end
    local digest_at, digest = text:match("^" .. BLANK .. "*()([^ \t\n\v\f\r\0]+)", after)
    if not digest then
        return nil
    end
    local index = -1
    if #digits <= 6 then -- no index 0..15 is longer
        index = tonumber(digits)
        index = sign == "-" and index ~= 0 and -index or index
    end
    return index, digest, index_at, after - index_at, digest_at
end

local function parse_auth_string(text)
    local index, digest = scan_auth_string(text)
    return index, digest
end

-- The signature verdict: {ok, failure, index, method, digest, expected}. The
-- failure names are hbnode's AuthFailure values, so tools can compare them.
local function check_signature(keyset, auth_text, signed)
    if auth_text == nil then
        return { ok = false, failure = "missing-auth" }
    end
    local index, digest = parse_auth_string(auth_text)
    if not index then
        return { ok = false, failure = "bad-trailer-syntax" }
    end
    local verdict = { index = index, digest = digest }
    local key = keyset.keys[index]
    if not key then
        verdict.ok, verdict.failure = false, "unknown-key-index"
        return verdict
    end
    verdict.method, verdict.expected = key.method, compute_digest(key, signed)
    verdict.ok = verdict.expected == digest
    verdict.failure = not verdict.ok and "digest-mismatch" or nil
    return verdict
end

M.parse_authkeys, M.parse_auth_string, M.check_signature = parse_authkeys, parse_auth_string, check_signature
M.parse_datagram = function(data)
    local result = { message = { fields = {} } }
    local ok, err = pcall(parse_datagram, data, result)
    return ok, ok and result or err
end
rawset(_G, "hbnode_heartbeat", M)

---------------------------------------------------------------------------------
-- Outside Wireshark (a plain Lua interpreter) only the functions above exist.
---------------------------------------------------------------------------------
if not Proto then
    return M
end

local hb = Proto("heartbeat", "Linux-HA Heartbeat")

-- The fields of protocol.md §3.1-3.2. Kinds: str, uuid (16 raw bytes), hex and
-- dec numbers, and seqnum: firstseq/lastseq, decimal in NS_rexmit, hex elsewhere.
local CATALOGUE = {
    { "t", "str", "Message type" },
    { "st", "str", "Node status" },
    { "src", "str", "Source node" },
    { "dest", "str", "Destination node" },
    { "srcuuid", "uuid", "Source node uuid" },
    { "destuuid", "uuid", "Destination node uuid" },
    { "seq", "hex", "Sequence number" },
    { "hg", "hex", "Heartbeat generation" },
    { "ts", "hex", "Sender's clock (time_t)" },
    { "dt", "hex", "Deadtime (ms)" },
    { "ld", "str", "Load average" },
    { "ttl", "dec", "Time to live" },
    { "protocol", "dec", "Protocol version" },
    { "auth", "str", "Inner auth field" },
    { "ackseq", "hex", "Acknowledged sequence number" },
    { "firstseq", "seqnum", "First sequence number" },
    { "lastseq", "seqnum", "Last sequence number" },
    { "info", "str", "Info" },
    { "rsc_hold", "str", "Resources held" },
    { "rtype", "str", "Resource report type" },
    { "isstable", "str", "Resources stable" },
    { "ipaddr", "str", "Resource group" },
    { "weown", "str", "We own the group" },
    { "ok", "str", "OK" },
    { "nodelist", "str", "Node list" },
    { "delnodelist", "str", "Deleted nodes" },
    { "from_id", "str", "From client" },
    { "to_id", "str", "To client" },
    { "client_gen", "str", "Client generation" },
    { "node", "str", "Node" },
    { "result", "str", "Result" },
    { "num_ping", "str", "Ping nodes" },
    { "cn", "str", "Client name" },
    { "cs", "str", "Client status" },
    { "_compression_algorithm", "str", "Compression algorithm" },
}

local F = {
    encoding = ProtoField.string("heartbeat.encoding", "Encoding"),
    field = ProtoField.none("heartbeat.field", "Field"),
    field_name = ProtoField.string("heartbeat.field.name", "Name"),
    field_type = ProtoField.uint8("heartbeat.field.type", "Type", base.DEC, {
        [0] = "string", [1] = "binary", [2] = "struct", [3] = "list", [4] = "compressed",
        [5] = "uncompressed struct",
    }),
    field_len = ProtoField.uint32("heartbeat.field.len", "Netstring length", base.DEC),
    field_value = ProtoField.string("heartbeat.field.value", "Value"),
    field_bytes = ProtoField.bytes("heartbeat.field.bytes", "Binary value"),
    field_item = ProtoField.string("heartbeat.field.item", "List element"),
    message = ProtoField.none("heartbeat.message", "Nested message"),
    trailer = ProtoField.string("heartbeat.trailer", "Auth trailer"),
    auth_index = ProtoField.int32("heartbeat.auth_index", "Key index", base.DEC),
    auth_method = ProtoField.string("heartbeat.auth_method", "Method"),
    auth_digest = ProtoField.string("heartbeat.auth_digest", "Digest"),
    auth_expected = ProtoField.string("heartbeat.auth_expected", "Expected digest"),
    auth_ok = ProtoField.bool("heartbeat.auth_ok", "Signature good"),
    auth_error = ProtoField.string("heartbeat.auth_error", "Signature problem"),
    inner_auth_ok = ProtoField.bool("heartbeat.inner_auth_ok", "Inner auth field good"),
    inner_auth_error = ProtoField.string("heartbeat.inner_auth_error", "Inner auth field problem"),
    malformed_reason = ProtoField.string("heartbeat.malformed.reason", "Malformed"),
    requested_in = ProtoField.framenum("heartbeat.analysis.requested_in", "Retransmission requested in frame"),
    first_in = ProtoField.framenum("heartbeat.analysis.first_in", "Sequence number first seen in frame"),
    lost = ProtoField.uint32("heartbeat.analysis.lost_count", "Messages missing before this one"),
}
local KNOWN, RAW = {}, {}
for _, entry in ipairs(CATALOGUE) do
    local name, kind, title = entry[1], entry[2], entry[3]
    local abbrev = "heartbeat." .. name
    if kind == "str" then
        KNOWN[name] = { kind = kind, field = ProtoField.string(abbrev, title) }
    elseif kind == "uuid" then
        KNOWN[name] = { kind = kind, field = ProtoField.guid(abbrev, title) }
    else
        local shown = kind == "hex" and base.HEX or base.DEC
        KNOWN[name] = { kind = kind, field = ProtoField.uint64(abbrev, title, shown) }
        RAW[name] = ProtoField.string(abbrev .. ".raw", title .. " as sent")
    end
end
local all_fields = {}
for _, f in pairs(F) do
    all_fields[#all_fields + 1] = f
end
for _, spec in pairs(KNOWN) do
    all_fields[#all_fields + 1] = spec.field
end
for _, f in pairs(RAW) do
    all_fields[#all_fields + 1] = f
end
hb.fields = all_fields

local group, severity = expert.group, expert.severity
local E = {
    malformed = ProtoExpert.new("heartbeat.malformed", "Malformed Heartbeat datagram", group.MALFORMED, severity.ERROR),
    truncated = ProtoExpert.new("heartbeat.truncated", "Datagram cut short by the capture", group.MALFORMED, severity.ERROR),
    good = ProtoExpert.new("heartbeat.signature.good", "Good signature", group.CHECKSUM, severity.CHAT),
    bad = ProtoExpert.new("heartbeat.signature.bad", "Bad signature", group.CHECKSUM, severity.ERROR),
    inner_bad = ProtoExpert.new("heartbeat.signature.inner_bad", "Bad inner auth field", group.CHECKSUM, severity.WARN),
    keyfile = ProtoExpert.new("heartbeat.keyfile_error", "authkeys file unusable", group.PROTOCOL, severity.WARN),
    keyfile_note = ProtoExpert.new("heartbeat.keyfile_warning", "authkeys file: read, with a warning",
        group.PROTOCOL, severity.NOTE),
    bad_number = ProtoExpert.new("heartbeat.bad_number", "Not a valid number", group.PROTOCOL, severity.WARN),
    bad_type = ProtoExpert.new("heartbeat.bad_type", "Unexpected field type", group.PROTOCOL, severity.WARN),
    seq_back = ProtoExpert.new("heartbeat.analysis.seq_back", "Sequence number goes back", group.SEQUENCE, severity.WARN),
    lost = ProtoExpert.new("heartbeat.analysis.lost", "Messages missing", group.SEQUENCE, severity.NOTE),
    restart = ProtoExpert.new("heartbeat.analysis.restart", "New generation: the sender restarted", group.SEQUENCE, severity.NOTE),
    old_generation = ProtoExpert.new("heartbeat.analysis.old_generation", "Older generation", group.SEQUENCE, severity.WARN),
    rexmit_request = ProtoExpert.new("heartbeat.analysis.rexmit_request", "Retransmission request", group.SEQUENCE, severity.NOTE),
    rexmit_nak = ProtoExpert.new("heartbeat.analysis.rexmit_nak", "Retransmission refused", group.SEQUENCE, severity.NOTE),
    out_of_order = ProtoExpert.new("heartbeat.analysis.out_of_order", "Out of order: fills a gap", group.SEQUENCE, severity.NOTE),
    retransmission = ProtoExpert.new("heartbeat.analysis.retransmission", "Retransmitted message", group.SEQUENCE, severity.NOTE),
    bug = ProtoExpert.new("heartbeat.bug", "Dissector bug (please report)", group.UNDECODED, severity.ERROR),
}
local all_experts = {}
for _, e in pairs(E) do
    all_experts[#all_experts + 1] = e
end
hb.experts = all_experts

hb.prefs.authkeys = Pref.string("authkeys file", "",
    "An authkeys file (auth N / N md5|sha1|crc [key]) to check signatures with. Empty: not checked.")

local f_interface_id = Field.new("frame.interface_id")

---------------------------------------------------------------------------------
-- Per-capture state: keys, signature cache, sequence analysis
---------------------------------------------------------------------------------
local state = {}

local function reset_state()
    state = {
        keys_path = nil, -- the path the keys were read from
        keyset = nil,
        keys_error = nil,
        keys_warnings = {}, -- what hbnode warns about in the file, as "file:line: what"
        verdicts = {}, -- frame number -> signature verdicts (they cost a digest each)
        notes = {}, -- frame number -> sequence analysis notes (first pass only)
        senders = {}, -- interface + sender -> {hg, max, seen}
        requested = {}, -- interface + sender -> {seq -> frame of the NS_rexmit}
    }
end
reset_state()

local function keyset()
    local path = hb.prefs.authkeys or ""
    if path ~= state.keys_path then
        state.keys_path, state.keyset, state.keys_error, state.verdicts = path, nil, nil, {}
        state.keys_warnings = {}
        if path ~= "" then
            local handle, err = io.open(path, "rb")
            if not handle then
                state.keys_error = "cannot read " .. path .. ": " .. tostring(err)
            else
                local text = handle:read("*a") or ""
                handle:close()
                state.keyset, state.keys_error, state.keys_warnings = parse_authkeys(text, path)
            end
        end
    end
    return state.keyset, state.keys_error, state.keys_warnings
end

function hb.init()
    reset_state()
end

function hb.prefs_changed()
    reset_state()
end

---------------------------------------------------------------------------------
-- Numbers: hex for seq/hg/ts/dt/ackseq, decimal for ttl/protocol and NS_rexmit's
-- firstseq/lastseq (protocol.md §9). Returns UInt64 and a Lua number (when exact).
---------------------------------------------------------------------------------
local function parse_number(text, hex)
    if hex then
        if #text == 0 or #text > 16 or text:find("[^0-9a-fA-F]") then
            return nil
        end
        return UInt64.fromhex(text), #text <= 13 and tonumber(text, 16) or nil
    end
    if #text == 0 or #text > 19 or text:find("[^0-9]") then
        return nil
    end
    local value = UInt64(0)
    for i = 1, #text do
        value = value * 10 + (text:byte(i) - 48)
    end
    return value, #text <= 15 and tonumber(text) or nil
end

local function is_hex_field(name, msg_type)
    local kind = KNOWN[name] and KNOWN[name].kind
    return kind == "hex" or (kind == "seqnum" and msg_type ~= "NS_rexmit")
end

---------------------------------------------------------------------------------
-- Sequence analysis (protocol.md §3.3-3.5), computed once, on the first pass,
-- per capture interface and sender; later passes show the stored notes.
---------------------------------------------------------------------------------
local MAX_GAP = 250 -- hb_rexmit.c: a wider gap is "lost a lot of packets!", not tracked

local function note(notes, expert_field, text, extra)
    notes[#notes + 1] = { expert = expert_field, text = text, extra = extra }
end

local function analyse(frame, iface, msg)
    local notes = {}
    local msg_type, src = first_string(msg, "t"), first_string(msg, "src")
    if not msg_type or not src then
        return notes
    end
    local function number(name)
        local text = first_string(msg, name)
        if not text then
            return nil
        end
        local _, exact = parse_number(text, is_hex_field(name, msg_type))
        return exact
    end
    if msg_type == "NS_rexmit" then
        local dest, first, last = first_string(msg, "dest"), number("firstseq"), number("lastseq")
        note(notes, E.rexmit_request, string.format("%s asks %s to resend seq %s..%s", src,
            tostring(dest), first and string.format("%x", first) or "?", last and string.format("%x", last) or "?"))
        if dest and first and last and last >= first then
            local key = iface .. "\0" .. dest
            state.requested[key] = state.requested[key] or {}
            for seq = first, math.min(last, first + 999) do -- Heartbeat resends at most 50 per request
                state.requested[key][seq] = frame
            end
        end
        return notes
    elseif msg_type == "NS_nak_rexmit" then
        note(notes, E.rexmit_nak, string.format("%s cannot resend seq %s: %s", src,
            tostring(first_string(msg, "firstseq")), tostring(first_string(msg, "info"))))
        return notes
    elseif msg_type:sub(1, 3) == "NS_" then -- not sequenced (§3.1)
        return notes
    end
    local seq, hg = number("seq"), number("hg")
    if not seq or not hg then
        return notes
    end
    local key = iface .. "\0" .. src
    local sender = state.senders[key]
    if not sender or hg > sender.hg then
        if sender then
            note(notes, E.restart, string.format("%s restarted: generation %x after %x", src, hg, sender.hg))
            state.requested[key] = nil
        end
        state.senders[key] = { hg = hg, max = seq, seen = { [seq] = frame }, missing = {} }
        return notes
    end
    if hg < sender.hg then
        note(notes, E.old_generation, string.format("generation %x of %s is older than %x (a replay?)", hg, src, sender.hg))
        return notes
    end
    local pending = state.requested[key]
    if pending and pending[seq] then
        note(notes, E.retransmission, string.format("%s resends seq %x", src, seq), { F.requested_in, pending[seq] })
        pending[seq] = nil
    elseif sender.missing[seq] then -- accepted by the receiver (§3.3 step 5): arrived late
        note(notes, E.out_of_order, string.format("seq %x of %s arrives after %x", seq, src, sender.max))
        sender.missing[seq] = nil
    elseif sender.seen[seq] then
        note(notes, E.seq_back, string.format("seq %x of %s again (highest so far %x)", seq, src, sender.max),
            { F.first_in, sender.seen[seq] })
    elseif seq < sender.max then
        note(notes, E.seq_back, string.format("seq %x of %s after %x: late, resent or replayed", seq, src, sender.max))
    elseif seq > sender.max + 1 then
        local gap = seq - sender.max - 1
        note(notes, E.lost, string.format("%d message(s) of %s missing: seq %x..%x", gap, src,
            sender.max + 1, seq - 1), { F.lost, gap })
        if gap <= MAX_GAP then -- wider gaps make Heartbeat give up on them, and so do we
            for missing = sender.max + 1, seq - 1 do
                sender.missing[missing] = true
            end
        end
    end
    sender.seen[seq] = sender.seen[seq] or frame
    if seq > sender.max then
        sender.max = seq
    end
    return notes
end

---------------------------------------------------------------------------------
-- Building the tree
---------------------------------------------------------------------------------
local TYPE_NAMES = { [0] = "string", "binary", "struct", "list", "compressed", "uncompressed struct" }

-- A TvbRange clipped to the captured bytes, or nil (then the item has no bytes).
local function range(tvb, offset, length)
    if not offset or offset < 0 or offset > tvb:len() then
        return nil
    end
    return tvb(offset, math.max(0, math.min(length or 0, tvb:len() - offset)))
end

-- TreeItem:add with an optional range and value (an explicit nil value is an
-- error for some field types, so it is left out).
local function add(tree, field, rng, value)
    if rng and value ~= nil then
        return tree:add(field, rng, value)
    elseif rng then
        return tree:add(field, rng)
    elseif value ~= nil then
        return tree:add(field, value)
    end
    return tree:add(field)
end

local function uuid_text(bytes)
    local h = to_hex(bytes)
    return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. h:sub(17, 20) .. "-" .. h:sub(21)
end

-- A binary value as a TvbRange: in place (netstring) or decoded into a tab of
-- its own (classic base64).
local function binary_range(tvb, f, encoding)
    if encoding == "netstring" then
        return range(tvb, f.value_off, f.value_len)
    end
    if #f.value == 0 then
        return nil
    end
    return ByteArray.new(f.value, true):tvb(f.name .. " (base64-decoded)"):range()
end

local function value_text(f)
    if f.ftype == 0 then
        return f.value
    elseif (f.ftype == 3 and not f.items) or (f.ftype ~= 2 and f.ftype ~= 5 and not f.value) then
        return "(malformed)" -- its parsing stopped half-way
    elseif f.ftype == 3 then
        local texts = {}
        for _, item in ipairs(f.items) do
            texts[#texts + 1] = item.text
        end
        return table.concat(texts, ", ")
    elseif f.ftype == 1 or f.ftype == 4 then
        return #f.value <= 32 and to_hex(f.value) or (to_hex(f.value:sub(1, 32)) .. "…")
    end
    return "(" .. #f.child.fields .. " fields)"
end

-- The item for a field of the catalogue, or nil when its type does not fit.
local function add_known(tree, tvb, f, msg_type, encoding)
    local spec = KNOWN[f.name]
    local rng = range(tvb, f.off, f.len)
    if spec.kind == "uuid" then
        if f.ftype ~= 1 or not f.value or #f.value ~= 16 then
            return nil
        end
        local item = tree:add(spec.field, binary_range(tvb, f, encoding))
        item:set_text(f.name .. ": " .. uuid_text(f.value))
        return item
    end
    if f.ftype ~= 0 then
        return nil
    end
    if spec.kind == "str" then
        local item = add(tree, spec.field, rng, clean(f.value))
        item:set_text(f.name .. ": " .. clean(f.value))
        return item
    end
    local hex = is_hex_field(f.name, msg_type)
    local value, exact = parse_number(f.value, hex)
    local item
    if value then
        item = add(tree, spec.field, rng, value)
        local label = f.name .. ": " .. clean(f.value)
        if hex and exact and exact > 9 then
            label = label .. " (" .. string.format("%d", exact) .. ")"
        end
        if f.name == "ts" and exact and exact < 2 ^ 40 then
            label = label .. " " .. os.date("!%Y-%m-%d %H:%M:%S UTC", exact)
        end
        item:set_text(label)
    else
        item = add(tree, F.field, rng)
        item:set_text(f.name .. ": " .. clean(f.value))
        item:add_proto_expert_info(E.bad_number, string.format("%s: %q is not a %s number", f.name,
            clean(f.value:sub(1, 40)), hex and "hex" or "decimal"))
    end
    add(item, RAW[f.name], range(tvb, f.value_off, f.value_len), clean(f.value))
    return item
end

local add_message

-- The generic name/type/value children every field has.
local function add_generic(item, tvb, f, encoding, depth, msg_type)
    if f.len_digits then
        add(item, F.field_len, range(tvb, f.off, f.len_digits), f.nslen)
    end
    add(item, F.field_type, f.type_off and range(tvb, f.type_off, 1), f.ftype)
    add(item, F.field_name, range(tvb, f.name_off, #f.name), clean(f.name))
    local vrng = range(tvb, f.value_off, f.value_len)
    if f.ftype == 0 then
        add(item, F.field_value, vrng, clean(f.value))
    elseif f.ftype == 3 and f.items then
        add(item, F.field_value, vrng, clean(f.raw))
        for _, element in ipairs(f.items) do
            add(item, F.field_item, range(tvb, element.off, #element.text), clean(element.text))
        end
    elseif (f.ftype == 1 or f.ftype == 4) and f.value then
        local brng = binary_range(tvb, f, encoding)
        if brng then
            item:add(F.field_bytes, brng)
        end
    elseif f.child then
        local sub = add(item, F.message, vrng)
        sub:set_text("Nested message (" .. #f.child.fields .. " fields)")
        add_message(sub, tvb, f.child, encoding, depth + 1, msg_type)
    end
end

-- One item per field, in wire order. Named fields only at the top level, so
-- that heartbeat.t means the message's own type, not a nested one's.
add_message = function(tree, tvb, msg, encoding, depth, msg_type)
    for _, f in ipairs(msg.fields) do
        if f.name then -- a field whose parsing failed half-way has no name yet
            local item = depth == 0 and KNOWN[f.name] and add_known(tree, tvb, f, msg_type, encoding)
            if not item then
                item = add(tree, F.field, range(tvb, f.off, f.len))
                item:set_text(f.name .. ": " .. clean(value_text(f)))
                if depth == 0 and KNOWN[f.name] then
                    item:add_proto_expert_info(E.bad_type, string.format("%s is a %s field here",
                        f.name, TYPE_NAMES[f.ftype] or "?"))
                end
            end
            add_generic(item, tvb, f, encoding, depth, msg_type)
        end
    end
end

---------------------------------------------------------------------------------
-- Signatures (protocol.md §2.3-2.4)
---------------------------------------------------------------------------------
-- {auth = verdict or nil, inner = verdict or nil}, cached per frame.
local function verdicts(frame, data, result, keys)
    local cached = state.verdicts[frame]
    if cached then
        return cached
    end
    local found = {}
    if result.encoding == "netstring" then
        found.auth = check_signature(keys, result.trailer and result.trailer.text, data:sub(1, result.signed_end))
        local inner = last_string(result.message, "auth")
        local has_auth = false
        for _, f in ipairs(result.message.fields) do
            has_auth = has_auth or f.name == "auth"
        end
        local signed = has_auth and classic_lines(result.message, 0, false)
        if signed then
            found.inner = check_signature(keys, inner and inner.value, signed)
        end
    else
        local auth = last_string(result.message, "auth")
        local signed = classic_lines(result.message, 0, false)
        found.auth = signed and check_signature(keys, auth and auth.value, signed)
            or { ok = false, failure = "cannot-reserialise" }
    end
    state.verdicts[frame] = found
    return found
end

local function add_verdict(tree, verdict, error_field)
    if verdict.index then
        add(tree, F.auth_index, nil, verdict.index):set_generated()
    end
    if verdict.method then
        add(tree, F.auth_method, nil, verdict.method):set_generated()
    end
    if verdict.expected and not verdict.ok then
        add(tree, F.auth_expected, nil, verdict.expected):set_generated()
    end
    if verdict.failure then
        add(tree, error_field, nil, verdict.failure):set_generated()
    end
end

local function add_signatures(root, tvb, pinfo, data, result, auth_item)
    local keys, keys_error, keys_warnings = keyset()
    if keys_error then
        root:add_proto_expert_info(E.keyfile, keys_error)
    end
    for _, warning in ipairs(keys_warnings or {}) do
        root:add_proto_expert_info(E.keyfile_note, warning)
    end
    if not keys then
        return nil
    end
    if result.malformed then -- the receiver drops it before any signature check
        add(root, F.auth_ok, nil, false):set_generated()
        add(root, F.auth_error, nil, "undecodable"):set_generated()
        return false
    end
    local found = verdicts(pinfo.number, data, result, keys)
    local item = add(root, F.auth_ok, nil, found.auth.ok)
    item:set_generated()
    add_verdict(item, found.auth, F.auth_error)
    if found.auth.ok then
        item:add_proto_expert_info(E.good, string.format("Good signature (%s, key %d)", found.auth.method, found.auth.index))
    else
        item:add_proto_expert_info(E.bad, "Bad signature: " .. found.auth.failure)
    end
    if found.inner then
        local inner = add(auth_item or root, F.inner_auth_ok, nil, found.inner.ok)
        inner:set_generated()
        if not found.inner.ok then
            add_verdict(inner, found.inner, F.inner_auth_error)
            inner:add_proto_expert_info(E.inner_bad, "Bad inner auth field: " .. found.inner.failure)
        end
    end
    return found.auth.ok
end

---------------------------------------------------------------------------------
-- The dissector
---------------------------------------------------------------------------------
local function summary(msg)
    local parts = { first_string(msg, "t") or "(no t)" }
    for _, name in ipairs({ "src", "seq" }) do
        local value = first_string(msg, name)
        if value then
            parts[#parts + 1] = name .. "=" .. value
        end
    end
    return clean(table.concat(parts, " "))
end

local function dissect(tvb, pinfo, tree)
    pinfo.cols.protocol:set("Heartbeat")
    local data = tvb:raw()
    local root = tree:add(hb, tvb())
    local result = { message = { fields = {} } }
    local ok, err = pcall(parse_datagram, data, result)
    if not ok then
        if getmetatable(err) ~= Malformed then
            error(err, 0) -- our bug: reported by the caller
        end
        result.malformed = err
    end
    local tags = {}
    root:add(F.encoding, range(tvb, 0, 4), result.encoding or "unknown")
    local msg_type = first_string(result.message, "t")
    add_message(root, tvb, result.message, result.encoding, 0, msg_type)
    local auth_item
    if result.trailer then
        auth_item = root:add(F.trailer, range(tvb, result.trailer.off, result.trailer.len), clean(result.trailer.text))
        local index, digest, index_at, index_len, digest_at = scan_auth_string(result.trailer.text)
        if index then
            local base = result.trailer.text_off - 1
            auth_item:add(F.auth_index, range(tvb, base + index_at, index_len), index)
            auth_item:add(F.auth_digest, range(tvb, base + digest_at, #digest), clean(digest))
        end
    end
    if result.malformed then
        local truncated = tvb:reported_length_remaining() > tvb:len()
        local rng = range(tvb, result.malformed.offset, tvb:len() - (result.malformed.offset or 0))
        local item = add(root, F.malformed_reason, rng, result.malformed.reason)
        item:add_proto_expert_info(truncated and E.truncated or E.malformed, result.malformed.reason)
        tags[#tags + 1] = truncated and "[truncated]" or "[malformed]"
    end
    local authentic = add_signatures(root, tvb, pinfo, data, result, auth_item)
    if authentic == false then
        tags[#tags + 1] = "[bad signature]"
    end
    -- Heartbeat drops what is malformed or fails its signature: keep those out
    -- of the sequence analysis, so a forged packet cannot disturb it.
    if not pinfo.visited then
        local iface = f_interface_id()
        state.notes[pinfo.number] = (result.malformed or authentic == false) and {}
            or analyse(pinfo.number, tostring(iface and iface.value or 0), result.message)
    end
    local notes = state.notes[pinfo.number] or {}
    for _, n in ipairs(notes) do
        local item = root:add(F.field, tvb(0, 0))
        item:set_text(n.text)
        item:set_generated() -- shown in brackets, as Wireshark shows what it inferred
        if n.extra then
            item:add(n.extra[1], n.extra[2]):set_generated()
        end
        item:add_proto_expert_info(n.expert, n.text)
        if n.expert == E.restart then
            tags[#tags + 1] = "[restart]"
        elseif n.expert == E.retransmission then
            tags[#tags + 1] = "[retransmission]"
        elseif n.expert == E.seq_back then
            tags[#tags + 1] = "[seq back]"
        elseif n.expert == E.out_of_order then
            tags[#tags + 1] = "[out of order]"
        end
    end
    local text = result.encoding and summary(result.message) or "not a Heartbeat datagram"
    if #tags > 0 then
        text = text .. " " .. table.concat(tags, " ")
    end
    pinfo.cols.info:set(text)
    root:append_text(", " .. (result.encoding or "?") .. ", " .. text)
    return tvb:len()
end

-- Never let a Lua error escape into Wireshark: a bug shows as expert info.
function hb.dissector(tvb, pinfo, tree)
    local ok, err = pcall(dissect, tvb, pinfo, tree)
    if not ok then
        pcall(function()
            tree:add(hb, tvb()):add_proto_expert_info(E.bug, "heartbeat.lua: " .. tostring(err))
        end)
    end
    return tvb:len()
end

-- Heartbeat on another port (ha.cf udpport, mcast lines): recognised by its
-- first four bytes, the way a receiver chooses the encoding.
local function heuristic(tvb, pinfo, tree)
    if tvb:len() < 4 then
        return false
    end
    local head = tvb(0, 4):raw()
    if head ~= "###\n" and head ~= ">>>\n" then
        return false
    end
    hb.dissector(tvb, pinfo, tree)
    return true
end

DissectorTable.get("udp.port"):add(694, hb)
hb:register_heuristic("udp", heuristic)

return M
