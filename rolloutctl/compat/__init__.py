"""Other agent APIs on rolloutctl: `osmosis_v02` serves agents written for Osmosis SDK 0.2."""
