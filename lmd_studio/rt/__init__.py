"""Real-time primitives: SPSC ring buffers, parameter mailbox, smoothers (numpy, allocation-free after setup)."""
