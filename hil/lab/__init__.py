"""The lab bench: a programmable source/load and a production BMS instead of a kei-protocol device (docs/lab.md)."""
