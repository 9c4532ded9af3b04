"""Hardware drivers, virtual hardware, the 50 Hz recorder and the simulation rig."""
