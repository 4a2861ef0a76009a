"""The serial link: transports over any pyserial URL, fault injection, device processes started by name, reconnecting connections."""
