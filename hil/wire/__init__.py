"""The bench protocol on the wire: COBS + CRC-16 framing and the message codec. Pure: bytes in, bytes out, no I/O."""
