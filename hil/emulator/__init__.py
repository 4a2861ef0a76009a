"""The emulated BMS: pack model (`pack.py`), BMS logic (`bms.py`), the message-handling device
(`device.py`, pure) and the process that serves it on a pty (`main.py`, `python3 -m hil.device`)."""
