-- RELOAD over TLS on port 6084 (RFC 6940 §6.6.5, TLS-TCP-FH-NO-ICE) for tshark: the TCP port
-- carries TLS, and decrypted application data (given a key log) goes to the framing dissector.
-- One TLS record may hold several frames (an ACK and the next message, say) and one frame may
-- span records; "reload-framing" reads a single frame per call, so the records are cut into
-- frames here (§6.6.2: ACK = 9 bytes, data = 8-byte header + 24-bit length).
local framing = Dissector.get("reload-framing")
local frames = Proto("reload-tls", "RELOAD framing over TLS")

function frames.dissector(tvb, pinfo, tree)
  local offset, length = 0, tvb:len()
  while offset < length do
    local left = length - offset
    local type = tvb(offset, 1):uint()
    local size
    if type == 0x81 then
      size = 9
    elseif type == 0x80 then
      if left < 8 then
        pinfo.desegment_offset = offset
        pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
        return length
      end
      size = 8 + tvb(offset + 5, 3):uint()
    else
      -- Not a frame start: let reload-framing report it.
      framing:call(tvb(offset):tvb(), pinfo, tree)
      return length
    end
    if left < size then
      pinfo.desegment_offset = offset
      pinfo.desegment_len = size - left
      return length
    end
    framing:call(tvb(offset, size):tvb(), pinfo, tree)
    offset = offset + size
  end
  return length
end

DissectorTable.get("tcp.port"):add(6084, Dissector.get("tls"))
DissectorTable.get("tls.port"):add(6084, frames)
