"""Value types shared by siblings: units, parameter specs, the BlockGenerator contract (stdlib + numpy)."""
