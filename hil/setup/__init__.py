"""What a session is set up from: the bench config, the BMS config and a design's pack setup (OCV table + CONFIGURE)."""
